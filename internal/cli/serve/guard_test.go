package serve

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
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

var servingOn = regexp.MustCompile(`porthole serving on (http://\S+)\n`)

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

// TestPlainServeIsGuarded: plain `porthole serve`, with no security flag
// but a limit, refuses a DNS-rebinding Host and applies the session limit
// (before, the gateway and its checks stood in front only when a security
// flag asked for them).
func TestPlainServeIsGuarded(t *testing.T) {
	f, _, _, _ := testFactory(t)
	out := &bannerURL{url: make(chan string, 1)}
	f.IOStreams.Out = out
	ctx, cancel := context.WithCancel(context.Background())
	root := parent(NewCmd(f, nil))
	root.SetArgs([]string{"serve", "--write-kubeconfig", "", "--listen", "127.0.0.1:0", "--max-sessions", "1"})
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

	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
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
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("rebinding Host: %d, want 403", resp.StatusCode)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	u := base + "/api/v1/namespaces/default/pods/demo/exec?command=sleep&command=60&stdout=true"
	first, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{Versions: protocol.WebSocketVersions})
	if err != nil {
		t.Fatalf("first session: %v", err)
	}
	defer first.Abort("test done")
	second, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{Versions: protocol.WebSocketVersions})
	var ue *websocket.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second session over --max-sessions 1: %v, want a 429 refusal", err)
	}
	if second != nil {
		second.Abort("test done")
	}
}
