package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// testTimeout bounds every wait of these tests; none should come near it.
const testTimeout = 60 * time.Second

// startPFNode serves a pod "p" from porthole's node on 127.0.0.1 behind
// wrap (nil: none) and returns the base URL. The local runtime forwards to
// this machine's loopback, so the tests' own listeners are the pod's ports.
func startPFNode(t *testing.T, wrap func(http.Handler) http.Handler) string {
	return streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, &streamtest.NodeOptions{Wrap: wrap}).URL
}

// tcpServer runs serve on every connection to a 127.0.0.1 port.
func tcpServer(t *testing.T, serve func(net.Conn)) uint16 { return streamtest.TCPServer(t, serve) }

// echo copies back what it reads, then half-closes.
func echo(c net.Conn) {
	_, _ = io.Copy(c, c)
	_ = c.(*net.TCPConn).CloseWrite()
}

// summarise reads to EOF, then answers with the byte count and SHA-256 of
// what it read: proof that the half-close arrived and the answer still
// travels back.
func summarise(c net.Conn) {
	h := sha256.New()
	n, _ := io.Copy(h, c)
	_, _ = c.Write([]byte(summary(n, h.Sum(nil))))
}

func summary(n int64, sum []byte) string { return fmt.Sprintf("read %d sha256 %x", n, sum) }

// payload is n deterministic pseudo-random bytes from seed.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// roundTrip writes p to addr, half-closes and returns everything read back.
func roundTrip(ctx context.Context, addr string, p []byte) ([]byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(p)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, rerr := io.ReadAll(c)
	if err := <-werr; err != nil {
		return got, err
	}
	return got, rerr
}

// lineWatch is an io.Writer that keeps what was written and lets a test
// wait for a line, without sleeping.
type lineWatch struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLineWatch() *lineWatch { return &lineWatch{changed: make(chan struct{})} }

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// count is how many times s occurs in what was written.
func (w *lineWatch) count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Count(w.buf.String(), s)
}

// await waits until s occurs n times.
func (w *lineWatch) await(t *testing.T, s string, n int) {
	t.Helper()
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		ok := strings.Count(w.buf.String(), s) >= n
		ch := w.changed
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("waited for %q x%d; output so far:\n%s", s, n, w.String())
		}
	}
}

// forwardRun is a PortForward running in the background.
type forwardRun struct {
	ports       chan []ForwardedPort
	done        chan error
	cancel      context.CancelFunc
	out, errOut *lineWatch
}

// startForward runs PortForward on c and waits until it is ready.
func startForward(t *testing.T, run func(ctx context.Context, opts *PortForwardOptions) error, opts *PortForwardOptions) (*forwardRun, []ForwardedPort) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fr := &forwardRun{ports: make(chan []ForwardedPort, 1), done: make(chan error, 1), cancel: cancel,
		out: newLineWatch(), errOut: newLineWatch()}
	opts.Events = PrintEvents(fr.out, fr.errOut)
	opts.Ready = func(p []ForwardedPort) { fr.ports <- p }
	go func() { fr.done <- run(ctx, opts) }()
	t.Cleanup(func() { fr.stop(t) })
	select {
	case p := <-fr.ports:
		return fr, p
	case err := <-fr.done:
		fr.done <- err
		t.Fatalf("PortForward ended before ready: %v (stderr: %s)", err, fr.errOut)
	case <-time.After(testTimeout):
		t.Fatal("PortForward not ready")
	}
	return nil, nil
}

// stop cancels the forward and requires it to return nil.
func (fr *forwardRun) stop(t *testing.T) {
	t.Helper()
	fr.cancel()
	select {
	case err, ok := <-fr.done:
		if ok && err != nil {
			t.Errorf("PortForward: %v", err)
		}
		if ok {
			close(fr.done)
		}
	case <-time.After(testTimeout):
		t.Error("PortForward did not return after cancel")
	}
}
