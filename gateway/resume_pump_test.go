package gateway

import (
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/replay"
	"github.com/porthole/porthole/protocol"
)

// heldStream is an output stream whose writes wait for release.
type heldStream struct {
	writing chan int      // a write's length, as it starts
	release chan struct{} // each receive lets one write end
}

func (h *heldStream) Read([]byte) (int, error) { select {} }
func (h *heldStream) Write(p []byte) (int, error) {
	h.writing <- len(p)
	<-h.release
	return len(p), nil
}
func (h *heldStream) CloseWrite() error { return nil }
func (h *heldStream) Reset() error      { return nil }

// TestPumpBehindAcknowledgement: a client that resumed from an earlier
// offset may acknowledge on the new connection bytes an earlier
// connection brought it (the gateway did send them), past what the new
// connection's sender has sent. The sender then carries on from the
// acknowledgement; it used to index the dropped bytes and crash the
// gateway (seen in CI as an index out of range in replay.Buffer).
func TestPumpBehindAcknowledgement(t *testing.T) {
	for _, done := range []bool{true, false} {
		t.Run(map[bool]string{true: "done", false: "more-to-come"}[done], func(t *testing.T) { testPumpBehind(t, done) })
	}
}

func testPumpBehind(t *testing.T, done bool) {
	r := &resumable{}
	r.cond = sync.NewCond(&r.mu)
	o := &r.outs[outStdout]
	o.on = true
	o.Append(make([]byte, 3*replay.ChunkSize))
	o.done = done
	o.sent = o.Total() // an earlier connection's sender handed it all over
	dst := &heldStream{writing: make(chan int), release: make(chan struct{})}
	a := &attachment{}
	var pumps sync.WaitGroup
	pumps.Add(1)
	a.core.Add(1)
	go r.pump(a, &pumps, outStdout, dst)
	ended := make(chan struct{})
	go func() {
		pumps.Wait()
		close(ended)
	}()
	if n := <-dst.writing; n != replay.ChunkSize {
		t.Fatalf("first write of %d bytes", n)
	}
	r.mu.Lock()
	err := r.ack(protocol.Offsets{Stdout: o.Total()})
	r.mu.Unlock()
	if err != nil {
		t.Fatalf("an acknowledgement of sent bytes: %v", err)
	}
	dst.release <- struct{}{}
	if !done {
		// The stream goes on: the sender waits for more, and sends it. A
		// moment lets it take the acknowledgement in first (no event shows
		// that it has).
		time.Sleep(50 * time.Millisecond)
		select {
		case <-ended:
			t.Fatal("the sender ended before its stream did")
		default:
		}
		r.mu.Lock()
		o.Append([]byte("more"))
		o.done = true
		r.cond.Broadcast()
		r.mu.Unlock()
		if n := <-dst.writing; n != 4 {
			t.Errorf("a write of %d bytes after the acknowledgement, want the 4 new ones", n)
		}
		dst.release <- struct{}{}
	}
	<-ended // the sender saw everything acknowledged, and ended
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ack(protocol.Offsets{Stdout: o.Total() + 1}); err == nil {
		t.Error("an acknowledgement past what was sent was taken")
	}
}
