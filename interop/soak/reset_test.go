package soak

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestResetMidStdin is the soak's leftover-process finding made
// deterministic: a client-go executor runs `cat` with stdin open on every
// path and wire; once bytes have gone through (echoed back), the fault
// proxy resets the client's connection (SO_LINGER 0, no FIN). The server
// side (serve, or a gateway and serve) must end the command: no process
// with the session's marker may remain after reapTimeout.
func TestResetMidStdin(t *testing.T) {
	wires := []harness.Wire{{Name: "websocket", WebSocket: true}, {Name: "spdy"}}
	i := 0
	for _, path := range paths {
		for _, w := range wires {
			i++
			t.Run(path+"/"+w.Name, func(t *testing.T) {
				s := spec{client: clientGo, wire: w, op: opExecStdin, path: path, fault: fault{kind: faultNone},
					index: i, marker: fmt.Sprintf("soakreset%d.%d", time.Now().UnixNano()%1e9, i)}
				ss := &session{spec: s, dir: t.TempDir(), srv: env.Server}
				p, err := newFaultProxy(upstreamFor(path), s.fault, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				ss.proxy = p
				if err := ss.writeKubeconfig(); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
				defer cancel()
				pr, pw := io.Pipe()
				echoed := &signalWriter{want: 4096, reached: make(chan struct{})}
				ended := make(chan error, 1)
				go func() {
					ended <- ss.clientGoExec(ctx, []string{"sh", "-c", "cat", s.marker}, pr, echoed, io.Discard)
				}()
				if _, err := pw.Write(make([]byte, 4096)); err != nil {
					t.Fatal(err)
				}
				select {
				case <-echoed.reached:
				case err := <-ended:
					t.Fatalf("session ended before the echo: %v", err)
				case <-ctx.Done():
					t.Fatal("no echo within the session bound")
				}
				if n := p.resetUpgraded(); n != 1 {
					t.Fatalf("reset %d upgraded connections, want 1", n)
				}
				pw.CloseWithError(io.ErrClosedPipe)
				select {
				case err := <-ended:
					t.Logf("client after the reset: %v", err)
				case <-ctx.Done():
					t.Fatal("client did not end within the session bound after the reset")
				}
				if err := harness.AwaitNoProcs(context.Background(), s.marker, reapTimeout); err != nil {
					t.Errorf("after the client's connection was reset mid-stdin: %v", err)
				}
			})
		}
	}
}

// signalWriter closes reached once want bytes were written.
type signalWriter struct {
	mu      sync.Mutex
	n, want int
	reached chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	before := w.n
	w.n += len(p)
	if before < w.want && w.n >= w.want {
		close(w.reached)
	}
	return len(p), nil
}
