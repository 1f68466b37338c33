package gateway

import (
	"net"
	"testing"
	"time"
)

// TestSPDYCloserClientNotHeldByStuckWrite: the client's bytes are followed
// (by the inspector, which tells the closer the streams) without waiting for
// a write to the client, so a client that stops reading its output can still
// send stdin through the gateway, as it can to a node directly.
func TestSPDYCloserClientNotHeldByStuckWrite(t *testing.T) {
	a, b := net.Pipe() // synchronous: a write waits for a reader
	defer b.Close()
	defer a.Close()
	ids := &spdyStreamIDs{}
	sc := newSPDYCloser(a, "v4.channel.k8s.io", ids)
	inspect := newSPDYInspect(1<<20, nil, ids)
	go sc.Write(make([]byte, 64)) // nobody reads b: stuck
	for sc.mu.TryLock() {         // wait until the write holds the lock
		sc.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	fed := make(chan struct{})
	go func() {
		// a data frame header and payload of the client's stdin stream
		_ = inspect.feed([]byte{0, 0, 0, 3, 0, 0, 0, 2, 'h', 'i'})
		close(fed)
	}()
	select {
	case <-fed:
	case <-time.After(10 * time.Second):
		t.Fatal("following the client waited on a write stuck on the client")
	}
}
