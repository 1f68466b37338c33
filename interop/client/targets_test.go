package client

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/interop/criref"
	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// sessionTimeout bounds each session.
const sessionTimeout = 90 * time.Second

// target is one peer the library talks to.
type target struct {
	name string
	// wire is the wire the session must end on.
	wire client.Wire
	// fallback: the WebSocket attempt must be refused first.
	fallback bool
	// lateSize: the peer starts the process without waiting for the first
	// terminal size (the CRI library applies sizes asynchronously), so a
	// command run at once may still see 0x0. porthole's node waits for it.
	lateSize bool
	exec     func(t *testing.T, ctx context.Context, cmd []string, so client.StreamOptions) error
}

// logBuffer collects a client's debug log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newClient(t *testing.T, cfg *client.Config, log *logBuffer) *client.Client {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// servedConfig is the client config for `porthole serve`'s kubeconfig.
func servedConfig(t *testing.T) *client.Config {
	t.Helper()
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: env.Server.Kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := client.ConfigFromKubeconfig(cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startCriref(t *testing.T) *criref.Server {
	t.Helper()
	s, err := criref.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("criref close: %v", err)
		}
	})
	return s
}

// targets: porthole serve; the CRI library's one-time URL (WebSocket v5 is
// refused with the empty 403, so the session must fall back to SPDY); the
// kubelet front's /exec path and the API server path, both translating
// WebSocket v5 to SPDY; and the API path forced onto SPDY (raw proxy).
func targets(t *testing.T) []target {
	s := startCriref(t)
	return []target{
		{name: "porthole-serve", wire: client.WireWebSocket, exec: func(t *testing.T, ctx context.Context, cmd []string, so client.StreamOptions) error {
			return run(t, servedConfig(t), client.WireWebSocket, false, func(c *client.Client) error {
				return c.Exec(ctx, &client.ExecOptions{Pod: harness.PodExec, Container: harness.ContainerMain, Command: cmd, StreamOptions: so})
			})
		}},
		{name: "kubelet-cri-library", lateSize: true, wire: client.WireSPDY, fallback: true, exec: func(t *testing.T, ctx context.Context, cmd []string, so client.StreamOptions) error {
			u := criProxy(t, s, &runtimeapi.ExecRequest{ContainerId: "default/ref/main", Cmd: cmd,
				Stdin: so.Stdin != nil, Stdout: so.Stdout != nil, Stderr: so.Stderr != nil && !so.TTY, Tty: so.TTY})
			return run(t, &client.Config{Host: u}, client.WireSPDY, true, func(c *client.Client) error {
				return c.Exec(ctx, &client.ExecOptions{URL: u + "/exec", StreamOptions: so})
			})
		}},
		{name: "kubelet-front", lateSize: true, wire: client.WireWebSocket, exec: func(t *testing.T, ctx context.Context, cmd []string, so client.StreamOptions) error {
			q := url.Values{"command": cmd}
			for name, on := range map[string]bool{"input": so.Stdin != nil, "output": so.Stdout != nil, "error": so.Stderr != nil && !so.TTY, "tty": so.TTY} {
				if on {
					q.Set(name, "1")
				}
			}
			u := s.URL() + "/exec/default/ref/main?" + q.Encode()
			return run(t, &client.Config{Host: s.URL()}, client.WireWebSocket, false, func(c *client.Client) error {
				return c.Exec(ctx, &client.ExecOptions{URL: u, StreamOptions: so})
			})
		}},
		{name: "apiserver-translator", lateSize: true, wire: client.WireWebSocket, exec: func(t *testing.T, ctx context.Context, cmd []string, so client.StreamOptions) error {
			return run(t, &client.Config{Host: s.URL()}, client.WireWebSocket, false, func(c *client.Client) error {
				return c.Exec(ctx, &client.ExecOptions{Namespace: "default", Pod: "ref", Container: "main", Command: cmd, StreamOptions: so})
			})
		}},
		{name: "apiserver-spdy-proxy", lateSize: true, wire: client.WireSPDY, exec: func(t *testing.T, ctx context.Context, cmd []string, so client.StreamOptions) error {
			so.Wire = client.WireSPDY
			return run(t, &client.Config{Host: s.URL()}, client.WireSPDY, false, func(c *client.Client) error {
				return c.Exec(ctx, &client.ExecOptions{Namespace: "default", Pod: "ref", Container: "main", Command: cmd, StreamOptions: so})
			})
		}},
	}
}

// criProxy stands where the kubelet's proxy does in front of the CRI
// streaming server: every request gets a fresh one-time URL for req (a
// token serves one request, and the refused WebSocket attempt spends it)
// and is passed through unchanged, upgrades included, so the answers are
// the CRI library's own (the empty 403 to v5, then the SPDY session).
func criProxy(t *testing.T, s *criref.Server, req *runtimeapi.ExecRequest) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := s.ExecURL(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = u
			pr.Out.Host = u.Host
		}}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// run makes a client logging to a buffer, runs fn, and checks from the log
// that the session ended on wire, after a refused WebSocket attempt exactly
// when fallback is set.
func run(t *testing.T, cfg *client.Config, wire client.Wire, fallback bool, fn func(*client.Client) error) error {
	t.Helper()
	var log logBuffer
	err := fn(newClient(t, cfg, &log))
	text := log.String()
	if got := strings.Contains(text, "falling back to spdy"); got != fallback {
		t.Errorf("fell back: %v, want %v; log:\n%s", got, fallback, text)
	}
	if want := `msg="session wire" wire=` + string(wire); !strings.Contains(text, want) {
		t.Errorf("log does not show %s; log:\n%s", want, text)
	}
	return err
}

func sessionCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), sessionTimeout)
	t.Cleanup(cancel)
	return ctx
}
