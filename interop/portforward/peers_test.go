package portforward

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	cgportforward "k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/interop/criref"
	"github.com/porthole/porthole/interop/internal/harness"
)

// startTimeout bounds how long a forward may take to become ready, and
// stopTimeout how long it may take to end.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// session is one running forward of some peer: a local address per remote
// port, in the order asked.
type session struct {
	locals []string
	ended  chan struct{} // closed once the forward has ended, for any reason
	err    error         // how it ended; read after ended
	stderr *lockedBuffer
	// stopper asks the forward to end (a signal, a cancel).
	stopper func()
	// wire, if set, checks after the end that the forward used the wire
	// under test.
	wire func(t *testing.T)
}

// stop ends the forward and requires a clean end.
func (s *session) stop(t *testing.T) {
	t.Helper()
	s.stopper()
	select {
	case <-s.ended:
	case <-time.After(stopTimeout):
		t.Fatalf("forward did not end within %v", stopTimeout)
	}
	if s.err != nil {
		t.Errorf("forward ended with %v; stderr: %s", s.err, s.stderr.tail())
	}
	if s.wire != nil {
		s.wire(t)
	}
}

// awaitEnd waits for the forward to end on its own.
func (s *session) awaitEnd(t *testing.T) error {
	t.Helper()
	select {
	case <-s.ended:
		return s.err
	case <-time.After(stopTimeout):
		t.Fatalf("forward did not end within %v; stderr: %s", stopTimeout, s.stderr.tail())
		return nil
	}
}

// peer is one port-forward client and wire.
type peer struct {
	name string
	// killsSession: the peer ends its whole session when the pod reports
	// an error for one connection (kubectl and client-go do).
	killsSession bool
	start        func(t *testing.T, remotes []int) *session
}

// lockedBuffer keeps a process's stderr for messages and assertions, and
// lets a test wait for a text without sleeping.
type lockedBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{changed: make(chan struct{})} }

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) tail() string {
	s := l.String()
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// await waits until s occurs n times, or fails after timeout.
func (l *lockedBuffer) await(t *testing.T, s string, n int, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		l.mu.Lock()
		ok := strings.Count(l.b.String(), s) >= n
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("waited %v for %q x%d; got: %s", timeout, s, n, l.tail())
		}
	}
}

var forwardingLine = regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)(?:/udp)?$`)

// startProcess runs a port-forward command (kubectl's or porthole's) that
// prints kubectl's "Forwarding from" lines on stdout, and waits until every
// remote port has its local one.
func startProcess(t *testing.T, cmd *exec.Cmd, remotes []int) *session {
	t.Helper()
	s := &session{ended: make(chan struct{}), stderr: newLockedBuffer()}
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = s.stderr
	must(t, cmd.Start())
	s.stopper = func() { _ = cmd.Process.Signal(os.Interrupt) }
	go func() {
		s.err = cmd.Wait()
		close(s.ended)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.ended
	})
	locals := make(map[int]string)
	lines, quit := make(chan string), make(chan struct{})
	defer close(quit)
	go scanLines(stdout, lines, quit)
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	for len(locals) < len(remotes) {
		select {
		case line, ok := <-lines:
			if !ok {
				<-s.ended
				t.Fatalf("%s ended before forwarding (%v): %s", cmd.Path, s.err, s.stderr.tail())
			}
			if m := forwardingLine.FindStringSubmatch(line); m != nil {
				r, _ := strconv.Atoi(m[2])
				locals[r] = "127.0.0.1:" + m[1]
			}
		case <-timer.C:
			t.Fatalf("%s not forwarding after %v: %s", cmd.Path, startTimeout, s.stderr.tail())
		}
	}
	for _, r := range remotes {
		s.locals = append(s.locals, locals[r])
	}
	return s
}

// scanLines sends stdout's lines until quit, then drains the rest so the
// process never blocks on a full pipe; it closes lines at EOF.
func scanLines(r io.Reader, lines chan<- string, quit <-chan struct{}) {
	defer close(lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		select {
		case lines <- sc.Text():
		case <-quit:
			_, _ = io.Copy(io.Discard, r)
			return
		}
	}
}

// portArgs are ":R" for each remote port: a free local port each.
func portArgs(remotes []int) []string {
	var args []string
	for _, r := range remotes {
		args = append(args, ":"+strconv.Itoa(r))
	}
	return args
}

// kubectlPeer runs kubectl port-forward on w against porthole serve,
// through the recording proxy so the wire it really used is checked.
func kubectlPeer(k harness.Kubectl, w harness.Wire) peer {
	return peer{
		name: k.Name() + "/" + w.Name, killsSession: true,
		start: func(t *testing.T, remotes []int) *session {
			mark := env.Server.Proxy.Mark()
			args := append([]string{"port-forward", "--address", "127.0.0.1", "pod/" + harness.PodExec}, portArgs(remotes)...)
			cmd := k.Command(context.Background(), w, t.TempDir(), env.Server.ProxyKubeconfig, args...)
			s := startProcess(t, cmd, remotes)
			s.wire = func(t *testing.T) { checkWire(t, mark, w.WebSocket) }
			return s
		},
	}
}

// checkWire: exactly one upgrade since mark, on the wire under test.
func checkWire(t *testing.T, mark int, websocket bool) {
	t.Helper()
	ups := env.Server.Proxy.UpgradesSince(mark)
	proto := "portforward.k8s.io"
	if websocket {
		proto = "SPDY/3.1+portforward.k8s.io"
	}
	if len(ups) != 1 || ups[0].WebSocket() != websocket || ups[0].Status != 101 || ups[0].Negotiated != proto {
		t.Errorf("upgrades: got %v, want one 101 negotiating %q", ups, proto)
	}
}

// portholeCLIPeer runs `porthole port-forward` against porthole serve,
// through the recording proxy, with kubectl's default (no flag: the tunnel
// first) or KUBECTL_PORT_FORWARD_WEBSOCKETS=false (plain SPDY), so the
// wire choice is proven end to end.
func portholeCLIPeer(websocket bool) peer {
	name, gate := "porthole-cli/serve/websocket", ""
	if !websocket {
		name, gate = "porthole-cli/serve/spdy", "FALSE"
	}
	return peer{
		name: name,
		start: func(t *testing.T, remotes []int) *session {
			mark := env.Server.Proxy.Mark()
			args := append([]string{"port-forward", "--kubeconfig", env.Server.ProxyKubeconfig, "--address", "127.0.0.1",
				"pod/" + harness.PodExec}, portArgs(remotes)...)
			cmd := exec.Command(porthole(t), args...)
			// Set either way, so an inherited value cannot decide.
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "KUBECTL_PORT_FORWARD_WEBSOCKETS="+gate)
			s := startProcess(t, cmd, remotes)
			s.wire = func(t *testing.T) { checkWire(t, mark, websocket) }
			return s
		},
	}
}

// inProcess runs forward in a goroutine until it returns or stop cancels
// it; ready hands over the local addresses.
func inProcess(t *testing.T, run func(ctx context.Context, ready func([]string), stderr io.Writer) error) *session {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{ended: make(chan struct{}), stderr: newLockedBuffer(), stopper: cancel}
	ready := make(chan []string, 1)
	go func() {
		s.err = run(ctx, func(l []string) { ready <- l }, s.stderr)
		close(s.ended)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.ended:
		case <-time.After(stopTimeout):
			t.Errorf("forward still running %v after cancel", stopTimeout)
		}
	})
	select {
	case s.locals = <-ready:
	case <-s.ended:
		t.Fatalf("forward ended before ready: %v", s.err)
	case <-time.After(startTimeout):
		t.Fatal("forward not ready")
	}
	return s
}

// clientGoPeer runs client-go's PortForwarder with the tunnelling dialer
// (kubectl's first choice) or the SPDY dialer against porthole serve.
func clientGoPeer(tunnel bool) peer {
	name := "client-go/serve/spdy"
	if tunnel {
		name = "client-go/serve/tunnel"
	}
	return peer{
		name: name, killsSession: true,
		start: func(t *testing.T, remotes []int) *session {
			u, err := url.Parse(env.Server.Config.Host + "/api/v1/namespaces/" + harness.Namespace + "/pods/" + harness.PodExec + "/portforward")
			must(t, err)
			var d httpstream.Dialer
			if tunnel {
				d, err = cgportforward.NewSPDYOverWebsocketDialer(u, env.Server.Config)
				must(t, err)
			} else {
				d = spdyDialer(t, env.Server.Config, u)
			}
			return inProcess(t, func(ctx context.Context, ready func([]string), stderr io.Writer) error {
				return runClientGo(ctx, d, remotes, ready, stderr)
			})
		},
	}
}

func spdyDialer(t *testing.T, cfg *rest.Config, u *url.URL) httpstream.Dialer {
	rt, up, err := spdy.RoundTripperFor(cfg)
	must(t, err)
	return spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", u)
}

func runClientGo(ctx context.Context, d httpstream.Dialer, remotes []int, ready func([]string), stderr io.Writer) error {
	readyCh := make(chan struct{})
	var ports []string
	for _, r := range remotes {
		ports = append(ports, "0:"+strconv.Itoa(r))
	}
	pf, err := cgportforward.NewOnAddressesWithContext(ctx, d, []string{"127.0.0.1"}, ports, readyCh, io.Discard, stderr)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- pf.ForwardPorts() }()
	select {
	case <-readyCh:
	case err := <-done:
		return err
	}
	got, err := pf.GetPorts()
	if err != nil {
		return errors.Join(err, <-done)
	}
	var locals []string
	for _, p := range got {
		locals = append(locals, tcpAddr(int(p.Local)))
	}
	ready(locals)
	return <-done
}

// portholePeer runs porthole's PortForward in-process against host (porthole
// serve, or the reference node's front) on wire.
func portholePeer(name, pod string, host func(t *testing.T) string, wire client.Wire) peer {
	return peer{
		name: name,
		start: func(t *testing.T, remotes []int) *session {
			c, err := client.New(&client.Config{Host: host(t)})
			must(t, err)
			return inProcess(t, func(ctx context.Context, ready func([]string), stderr io.Writer) error {
				var ports []client.ForwardedPort
				for _, r := range remotes {
					ports = append(ports, client.ForwardedPort{Remote: uint16(r)})
				}
				return c.PortForward(ctx, &client.PortForwardOptions{
					Namespace: harness.Namespace, Pod: pod, Ports: ports, Addresses: []string{"127.0.0.1"},
					Wire: wire, Events: client.PrintEvents(nil, stderr),
					Ready: func(got []client.ForwardedPort) {
						var locals []string
						for _, p := range got {
							locals = append(locals, tcpAddr(int(p.Local)))
						}
						ready(locals)
					},
				})
			})
		},
	}
}

// serveHost is porthole serve's base URL.
func serveHost(*testing.T) string { return "http://" + env.Server.Addr }

// crirefHost starts the reference node for the test and returns its front.
func crirefHost(t *testing.T) string {
	s, err := criref.Start(context.Background(), nil)
	must(t, err)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close reference node: %v", err)
		}
	})
	return s.URL()
}
