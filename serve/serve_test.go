package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewListenAddress(t *testing.T) {
	for _, tc := range []struct {
		listen string
		ok     bool
	}{
		{"127.0.0.1:0", true},
		{"localhost:0", true},
		{"127.0.0.2:0", true},
		{"0.0.0.0:0", false},
		{":0", false},
		{"[::]:0", false},
		{"192.0.2.1:0", false},
		{"example.com:0", false},
		{"127.0.0.1", false}, // no port
	} {
		t.Run(tc.listen, func(t *testing.T) {
			s, err := New(&Options{Listen: tc.listen, Runtime: newFakeRuntime(testPods()...)})
			if tc.ok {
				if err != nil {
					t.Fatalf("New(%q): %v", tc.listen, err)
				}
				if host, _, _ := net.SplitHostPort(s.Addr().String()); !net.ParseIP(host).IsLoopback() {
					t.Errorf("bound %s, want loopback", s.Addr())
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("New(%q) succeeded, want refusal", tc.listen)
			}
			if tc.listen != "127.0.0.1" && !strings.Contains(err.Error(), "loopback addresses only") {
				t.Errorf("error %q does not explain the loopback rule", err)
			}
		})
	}
}

func TestNewRejectsBadPods(t *testing.T) {
	dup := []*kube.Pod{DemoPod(), DemoPod()}
	noContainers := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "x"}}
	for name, pods := range map[string][]*kube.Pod{"duplicate": dup, "invalid": {noContainers}, "nil": {nil}} {
		t.Run(name, func(t *testing.T) {
			rt := newFakeRuntime()
			if s, err := New(&Options{Listen: "127.0.0.1:0", Pods: pods, Runtime: rt}); err == nil {
				s.Close()
				t.Fatal("New succeeded, want error")
			}
			if _, closed := rt.counts(); closed != 1 {
				t.Errorf("runtime closed %d times by a failing New, want 1", closed)
			}
		})
	}
}

// startServer runs a Server on a free loopback port over rt until the test ends.
func startServer(t *testing.T, opts Options) (*Server, func() error) {
	t.Helper()
	opts.Listen = "127.0.0.1:0"
	s, err := New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return s, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestRunServesAndShutsDown(t *testing.T) {
	rt := newFakeRuntime(testPods()...)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	var out bytes.Buffer
	s, stop := startServer(t, Options{Pods: testPods(), Runtime: rt, KubeconfigPath: kc, Out: &out})

	for _, path := range []string{"/healthz", "/readyz", "/livez"} {
		if code, body := get(t, s.URL()+path); code != 200 || body != "ok" {
			t.Errorf("%s: got %d %q, want 200 ok", path, code, body)
		}
	}
	code, body := get(t, s.URL()+"/api/v1/namespaces/apps/pods/api")
	if code != 200 || !strings.Contains(body, `"uid":"uid-api"`) {
		t.Errorf("get pod: %d %s", code, body)
	}
	code, body = get(t, s.URL()+"/api/v1/namespaces/default/pods/nope")
	if want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"pods"},"code":404}` + "\n"; code != 404 || body != want {
		t.Errorf("missing pod: got %d %s, want 404 %s", code, body, want)
	}

	// The kubeconfig was written before serving began.
	cfg, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "server: "+s.URL()+"\n") || !strings.Contains(string(cfg), "current-context: porthole\n") {
		t.Errorf("kubeconfig:\n%s", cfg)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if started, closed := rt.counts(); started != 1 || closed != 1 {
		t.Errorf("runtime started %d closed %d times, want 1 and 1", started, closed)
	}
	want := "porthole serving on " + s.URL() + "\nkubeconfig: " + kc + "\ntry: kubectl --kubeconfig " + kc + " exec demo -- date\n"
	if out.String() != want {
		t.Errorf("banner:\ngot  %q\nwant %q", out.String(), want)
	}
	if _, err := http.Get(s.URL() + "/healthz"); err == nil {
		t.Error("server still answers after Run returned")
	}
}

// TestStreamingPathsGoToNode: exec, attach and portforward reach the node,
// not the read-only API (which would answer 404 or 405 Status).
func TestStreamingPathsGoToNode(t *testing.T) {
	s, _ := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...)})
	_, apiNotFound := get(t, s.URL()+"/api/v1/namespaces/default/pods/demo/log")
	for _, verb := range []string{"exec", "attach", "portforward"} {
		resp, err := http.Post(s.URL()+"/api/v1/namespaces/default/pods/demo/"+verb+"?command=date&stdout=true", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) == apiNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s: answered by the API (%d %s), want the node", verb, resp.StatusCode, b)
		}
	}
}

func TestCloseWithoutRun(t *testing.T) {
	rt := newFakeRuntime()
	s, err := New(&Options{Listen: "127.0.0.1:0", Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, closed := rt.counts(); closed != 1 {
		t.Errorf("runtime closed %d times, want 1", closed)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	ln.Close()
	if err := s.Run(context.Background()); err == nil {
		t.Error("Run after Close succeeded")
	}
}

func TestRunKubeconfigError(t *testing.T) {
	rt := newFakeRuntime()
	s, err := New(&Options{Listen: "127.0.0.1:0", Runtime: rt, KubeconfigPath: filepath.Join(t.TempDir(), "missing", "config")})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "write kubeconfig") {
		t.Fatalf("Run: got %v, want a kubeconfig error", err)
	}
	if _, closed := rt.counts(); closed != 1 {
		t.Errorf("runtime closed %d times, want 1", closed)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/kc":       "/tmp/kc",
		"/tmp/my kc":    "'/tmp/my kc'",
		"/tmp/it's":     `'/tmp/it'\''s'`,
		"":              "''",
		"C:/x/y.yaml":   "C:/x/y.yaml",
		"/home/a/$HOME": "'/home/a/$HOME'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBanner(t *testing.T) {
	for _, tc := range []struct {
		kubeconfig string
		pod        node.PodRef
		want       string
	}{
		{"/tmp/kc", node.PodRef{Namespace: "default", Name: "demo"},
			"porthole serving on http://127.0.0.1:1\nkubeconfig: /tmp/kc\ntry: kubectl --kubeconfig /tmp/kc exec demo -- date\n"},
		{"/tmp/my kc", node.PodRef{Namespace: "apps", Name: "api"},
			"porthole serving on http://127.0.0.1:1\nkubeconfig: /tmp/my kc\ntry: kubectl --kubeconfig '/tmp/my kc' -n apps exec api -- date\n"},
		{"", node.PodRef{Namespace: "default", Name: "demo"},
			"porthole serving on http://127.0.0.1:1\ntry: kubectl --server http://127.0.0.1:1 exec demo -- date\n"},
	} {
		var b bytes.Buffer
		writeBanner(&b, "http://127.0.0.1:1", tc.kubeconfig, tc.pod)
		if b.String() != tc.want {
			t.Errorf("got  %q\nwant %q", b.String(), tc.want)
		}
	}
}

// TestHTTP1Only: a client speaking HTTP/2 with prior knowledge (h2c) gets
// no HTTP/2 server: upgrades need HTTP/1.1.
func TestHTTP1Only(t *testing.T) {
	s, _ := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...)})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c) // the server answers and closes
	if !strings.HasPrefix(string(b), "HTTP/1.1 ") {
		t.Errorf("answer to the HTTP/2 preface: %q, want an HTTP/1.1 response", b)
	}
}

// TestVersion: what the kubectl dispatcher and kubectl version read.
func TestVersion(t *testing.T) {
	b, err := json.Marshal(versionInfo())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"major": "1", "minor": "33", "gitVersion": "v1.33.0-porthole",
		"emulationMajor": "1", "emulationMinor": "33", "minCompatibilityMajor": "1", "minCompatibilityMinor": "32",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
}

// TestMetrics: serve answers GET /metrics with the Go runtime's, the
// process's and the gateway's figures, so a soak or a bench can watch its
// goroutines, descriptors and sessions.
func TestMetrics(t *testing.T) {
	s, _ := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...),
		KubeconfigPath: filepath.Join(t.TempDir(), "kubeconfig"), Out: io.Discard})
	code, body := get(t, s.URL()+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	for _, name := range []string{"go_goroutines ", "process_open_fds ", "process_resident_memory_bytes "} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics has no %q", name)
		}
	}
}

// TestProfiling: --profiling serves pprof's goroutine profile; without it
// the path is not served; with authentication on, it needs a credential.
func TestProfiling(t *testing.T) {
	const path = "/debug/pprof/goroutine?debug=1"
	off, _ := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...), Out: io.Discard})
	if code, body := get(t, off.URL()+path); code == 200 || strings.Contains(body, "goroutine profile:") {
		t.Errorf("profiling off: GET %s: %d, profile served", path, code)
	}
	on, _ := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...), Out: io.Discard, Profiling: true})
	code, body := get(t, on.URL()+path)
	if code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("profiling on: GET %s: %d %.200s", path, code, body)
	}
	tokens, err := gateway.ParseTokens(strings.NewReader("tok,alice,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	authed, _ := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...), Out: io.Discard,
		Profiling: true, Gateway: &gateway.Options{Tokens: tokens}})
	if code, _ := get(t, authed.URL()+path); code != http.StatusUnauthorized {
		t.Errorf("profiling with authentication, no token: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", authed.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "goroutine profile:") {
		t.Errorf("profiling with token: %d %.200s", resp.StatusCode, b)
	}
}
