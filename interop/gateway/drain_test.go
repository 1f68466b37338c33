package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestRollingReplicas: two gateway replicas behind a TCP load balancer that
// health-checks /readyz, as a cloud one does. Rolling replica A (SIGTERM,
// with a shutdown delay and grace), its /readyz fails at once, so the
// balancer sends no new session to it while it still serves; a session
// that ends within the grace finishes with its exit code; one that outlives
// it ends with the gateway's status, not a reset; A exits 0. With the
// newest kubectl on each of its wires.
func TestRollingReplicas(t *testing.T) {
	k := env.Kubectls[len(env.Kubectls)-1]
	certDir := t.TempDir()
	a, err := startGateway(env.Porthole, topo.dir, "roll-a", "http://"+env.Server.Addr, "--cert-dir", certDir,
		"--shutdown-delay-duration", "3s", "--shutdown-grace", "6s")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Kill()
	b, err := startGateway(env.Porthole, topo.dir, "roll-b", "http://"+env.Server.Addr, "--cert-dir", certDir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.stop(); err != nil {
			t.Error(err)
		}
	}()
	ca, err := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	lb := startBalancer(t, ca, a.URL, b.URL)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\ncurrent-context: lb\nclusters:\n- name: lb\n  cluster:\n    server: " + lb.url() +
		"\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString(ca) +
		"\nusers:\n- name: u\n  user:\n    token: alice-token\ncontexts:\n- name: lb\n  context: {cluster: lb, user: u, namespace: default}\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	kubectl := func(ctx context.Context, w harness.Wire, args ...string) *exec.Cmd {
		return k.Command(ctx, w, home, kc, args...)
	}

	// Sessions on A (the balancer prefers it while it is ready): one
	// that ends within the grace, one that outlives it, on each wire.
	type running struct {
		name           string
		cmd            *exec.Cmd
		stdout, stderr *harness.SyncBuffer
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var sessions []running
	for _, w := range k.Wires() {
		for _, script := range []string{"echo ready; sleep 5; echo finished; exit 3", "echo ready; sleep 60"} {
			r := running{name: w.Name + ": " + script, stdout: &harness.SyncBuffer{}, stderr: &harness.SyncBuffer{}}
			r.cmd = kubectl(ctx, w, "exec", harness.PodExec, "--", "sh", "-c", script)
			r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
			if err := r.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sessions = append(sessions, r)
		}
	}
	for _, r := range sessions {
		waitFor(t, func() bool { return strings.Contains(r.stdout.String(), "ready\n") }, "session "+r.name+" to start:\n"+r.stderr.String())
	}
	if n := lb.conns(b.URL); n != 0 {
		t.Fatalf("%d connections reached B before the roll; the balancer prefers A", n)
	}

	_ = a.Signal(syscall.SIGTERM)
	waitFor(t, func() bool { return !lb.healthy(a.URL) }, "the balancer to see A draining")
	onA := lb.conns(a.URL)
	for _, w := range k.Wires() {
		out, err := kubectl(ctx, w, "exec", harness.PodExec, "--", "echo", "new").CombinedOutput()
		if err != nil || string(out) != "new\n" {
			t.Errorf("%s: a new session during the roll: %v, %q", w.Name, err, out)
		}
	}
	if got := lb.conns(a.URL); got != onA {
		t.Errorf("%d new connections reached draining A", got-onA)
	}
	if lb.conns(b.URL) == 0 {
		t.Error("no new session reached B")
	}

	for i, r := range sessions {
		err := r.cmd.Wait()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if i%2 == 0 {
			if code != 3 || r.stdout.String() != "ready\nfinished\n" {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want 3 and both lines (it ended within the grace)", r.name, code, r.stdout.String(), r.stderr.String())
			}
			continue
		}
		stderr := r.stderr.String()
		if code == 0 || !strings.Contains(stderr, "gateway shutting down") || strings.Contains(stderr, "reset by peer") {
			t.Errorf("%s: exit %d, stderr %q; want a failure that names the gateway's shutdown, not a reset", r.name, code, stderr)
		}
	}
	select {
	case <-a.Exited():
		if err := a.ExitErr(); err != nil {
			t.Errorf("A after SIGTERM: %v\n%s", err, a.logTail())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("A did not exit after its grace\n%s", a.logTail())
	}
}

// waitFor polls cond (the state of other processes offers no event) for up
// to 30 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// balancer is a TCP load balancer on loopback: each connection goes to the
// first backend whose /readyz last answered 200 (checked every 100 ms).
type balancer struct {
	ln       net.Listener
	backends []string // https://host:port
	client   *http.Client
	mu       sync.Mutex
	ready    map[string]bool
	count    map[string]int
	wg       sync.WaitGroup
	stop     chan struct{}
}

func startBalancer(t *testing.T, ca []byte, backends ...string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	lb := &balancer{ln: ln, backends: backends, ready: map[string]bool{}, count: map[string]int{}, stop: make(chan struct{}),
		client: &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}}
	lb.check()
	lb.wg.Add(2)
	go lb.checkLoop()
	go lb.acceptLoop()
	t.Cleanup(func() {
		close(lb.stop)
		ln.Close()
		lb.wg.Wait()
	})
	return lb
}

func (lb *balancer) url() string { return "https://" + lb.ln.Addr().String() }

func (lb *balancer) check() {
	for _, be := range lb.backends {
		ok := false
		if resp, err := lb.client.Get(be + "/readyz"); err == nil {
			ok = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
		lb.mu.Lock()
		lb.ready[be] = ok
		lb.mu.Unlock()
	}
}

func (lb *balancer) checkLoop() {
	defer lb.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-lb.stop:
			return
		case <-tick.C:
			lb.check()
		}
	}
}

func (lb *balancer) healthy(be string) bool {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.ready[be]
}

func (lb *balancer) conns(be string) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.count[be]
}

func (lb *balancer) acceptLoop() {
	defer lb.wg.Done()
	for {
		c, err := lb.ln.Accept()
		if err != nil {
			return
		}
		lb.mu.Lock()
		target := ""
		for _, be := range lb.backends {
			if lb.ready[be] {
				target = be
				break
			}
		}
		if target != "" {
			lb.count[target]++
		}
		lb.mu.Unlock()
		if target == "" {
			c.Close()
			continue
		}
		lb.wg.Add(1)
		go lb.splice(c, strings.TrimPrefix(target, "https://"))
	}
}

func (lb *balancer) splice(c net.Conn, addr string) {
	defer lb.wg.Done()
	defer c.Close()
	up, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	c.(*net.TCPConn).CloseWrite()
	<-done
}
