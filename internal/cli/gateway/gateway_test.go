package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(*Options) bool
	}{
		{"upstream", []string{"--upstream", "http://127.0.0.1:1", "--upstream-spdy-only", "--rbac-file", "a", "--rbac-file", "b"}, "",
			func(o *Options) bool {
				return o.Upstream == "http://127.0.0.1:1" && o.SPDYOnlyUpstream && len(o.Security.RBACFiles) == 2 && o.Listen == DefaultListen
			}},
		{"security defaults", []string{"--upstream", "http://x"}, "",
			func(o *Options) bool {
				return o.Security.IdleTimeout == 4*time.Hour && o.Security.MaxSessions == gateway.DefaultMaxSessions && !o.Security.AllowAnonymous
			}},
		{"gates", []string{"--upstream", "http://x", "--feature-gates", "PortForwardWebsockets=false"}, "",
			func(o *Options) bool { return o.Security.FeatureGates == "PortForwardWebsockets=false" }},
		{"no upstream", nil, "exactly one of --upstream and --upstream-kubeconfig is required", nil},
		{"both upstreams", []string{"--upstream", "http://x", "--upstream-kubeconfig", "k"}, "exactly one of", nil},
		{"argument", []string{"--upstream", "http://x", "extra"}, "unknown command", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cli.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
			cli.AddGlobalFlags(cmd.PersistentFlags())
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got == nil || !tc.check(got) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

// TestRunServesAndShutsDown runs the command in front of an upstream,
// checks a proxied read and /metrics, then cancels it: exit clean.
func TestRunServesAndShutsDown(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"gitVersion":"v1.37.2"}`)
	}))
	defer up.Close()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	os.WriteFile(tokens, []byte("tok,alice,1\n"), 0o600)
	ios, _, out, _ := iostreams.Test()
	pr, pw := io.Pipe()
	ios.Out = pw
	opts := &Options{IO: ios, Factory: &cli.Factory{IOStreams: ios}, Listen: "127.0.0.1:0", Upstream: up.URL,
		ShutdownGrace: 5 * time.Second, ShutdownDelay: 2 * time.Second}
	opts.Security = Security{TokenAuthFile: tokens, AuditLogPath: filepath.Join(dir, "audit.jsonl"),
		MaxSessions: 10, MaxSessionsPerUser: 10, MaxMessageBytes: 1 << 20, MaxHeaderBytes: 1 << 16, IdleTimeout: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts) }()
	line := make([]byte, 200)
	n, _ := pr.Read(line)
	go io.Copy(io.Discard, pr)
	addr := regexp.MustCompile(`http://[0-9.:]+`).FindString(string(line[:n]))
	if addr == "" {
		t.Fatalf("banner %q", line[:n])
	}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/version", ""); code != 401 {
		t.Errorf("/version without token: %d", code)
	}
	if code, body := get("/version", "tok"); code != 200 || !strings.Contains(body, "v1.37.2") {
		t.Errorf("/version: %d %q", code, body)
	}
	if code, body := get("/metrics", "tok"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d", code)
	}
	if code, _ := get("/readyz", ""); code != 200 {
		t.Errorf("/readyz before SIGTERM: %d, want 200", code)
	}
	// SIGTERM: for the delay /readyz fails while the gateway still serves.
	cancel()
	deadline := time.Now().Add(opts.ShutdownDelay / 2)
	for code, _ := get("/readyz", ""); code != 503; code, _ = get("/readyz", "") {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d during the shutdown delay", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := get("/version", "tok"); code != 200 || !strings.Contains(body, "v1.37.2") {
		t.Errorf("/version during the shutdown delay: %d %q", code, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	pw.Close()
	http.DefaultClient.CloseIdleConnections()
	_ = out
}
