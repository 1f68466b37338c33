package serve

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/cli/clitest"
	"github.com/porthole/porthole/kube/kubeconfig"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

// bannerURL is stdout that hands over the server's URL once the banner
// names it.
type bannerURL struct {
	mu   sync.Mutex
	buf  strings.Builder
	url  chan string
	sent bool
}

var servingOn = regexp.MustCompile(`porthole serving on (https?://\S+)\n`)

func (w *bannerURL) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := servingOn.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.sent = true
		w.url <- m[1]
	}
	return len(p), nil
}

// TestServeIsGuarded: `porthole serve`, with no security flag but a limit,
// refuses a DNS-rebinding page and applies the session limit, served plain
// (--plain-http) or by default (HTTPS, the generated token required: a
// session without it is refused 401).
func TestServeIsGuarded(t *testing.T) {
	for _, plain := range []bool{true, false} {
		t.Run(map[bool]string{true: "plain-http", false: "default"}[plain], func(t *testing.T) {
			testServeIsGuarded(t, plain)
		})
	}
}

func testServeIsGuarded(t *testing.T, plain bool) {
	f, _, _, _ := testFactory(t)
	out := &bannerURL{url: make(chan string, 1)}
	f.IOStreams.Out = out
	ctx, cancel := context.WithCancel(context.Background())
	root := clitest.Root(NewCmd(f, nil))
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	args := []string{"serve", "--write-kubeconfig", kc, "--listen", "127.0.0.1:0", "--max-sessions", "1"}
	if plain {
		args = append(args, "--plain-http")
	}
	root.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var base string
	select {
	case base = <-out.url:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	}
	if want := map[bool]string{true: "http://", false: "https://"}[plain]; !strings.HasPrefix(base, want) {
		t.Fatalf("serving on %s, want %s", base, want)
	}
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: kc})
	if err != nil {
		t.Fatal(err)
	}
	if plain != (len(cc.CAData) == 0 && cc.Token == "") {
		t.Fatalf("kubeconfig: %d bytes of CA, token %q; plain %t", len(cc.CAData), cc.Token, plain)
	}
	hc := &http.Client{}
	var tlsCfg *tls.Config
	if !plain {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(cc.CAData)
		tlsCfg = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
		hc.Transport = &http.Transport{TLSClientConfig: tlsCfg}
		defer hc.CloseIdleConnections()
	}

	addr := base[strings.Index(base, "://")+3:]
	var c net.Conn
	if plain {
		c, err = net.Dial("tcp", addr)
	} else {
		c, err = tls.Dial("tcp", addr, tlsCfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: attacker.example:7443\r\nConnection: close\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Plain, the Host check refuses the rebinding page; by default the
	// page has no token (nor would its browser trust the certificate).
	if want := map[bool]int{true: http.StatusForbidden, false: http.StatusUnauthorized}[plain]; resp.StatusCode != want {
		t.Errorf("rebinding Host: %d, want %d", resp.StatusCode, want)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	u := base + "/api/v1/namespaces/default/pods/demo/exec?command=sleep&command=60&stdout=true"
	if !plain {
		_, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{Versions: protocol.WebSocketVersions, HTTPClient: hc})
		var ue *stream.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != http.StatusUnauthorized {
			t.Errorf("session without the token: %v, want a 401 refusal", err)
		}
	}
	opts := &websocket.DialOptions{Versions: protocol.WebSocketVersions, HTTPClient: hc, Header: http.Header{}}
	if cc.Token != "" {
		opts.Header.Set("Authorization", "Bearer "+cc.Token)
	}
	first, _, err := websocket.Dial(dctx, u, opts)
	if err != nil {
		t.Fatalf("first session: %v", err)
	}
	defer first.Abort("test done")
	second, _, err := websocket.Dial(dctx, u, opts)
	var ue *stream.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second session over --max-sessions 1: %v, want a 429 refusal", err)
	}
	if second != nil {
		second.Abort("test done")
	}
}
