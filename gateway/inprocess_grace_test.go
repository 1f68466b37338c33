package gateway

import (
	"net"
	"testing"
)

// TestInProcessGracesEndWithClose: the timers that take an in-process
// connection back after a cut or a half-close stop when it closes, and
// none is armed after, so a finished session is not held for their grace
// (endGrace is a minute).
func TestInProcessGracesEndWithClose(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &inProcessConn{client: a, done: make(chan struct{})}
	c.cut()
	c.ended()
	c.doneMu.Lock()
	graces := c.graces
	c.doneMu.Unlock()
	if len(graces) != 2 {
		t.Fatalf("%d grace timers after a cut and a half-close, want 2", len(graces))
	}
	c.Close()
	for i, g := range graces {
		if g.Stop() {
			t.Errorf("grace timer %d was still armed after Close", i)
		}
	}

	late := &inProcessConn{client: a, done: make(chan struct{})}
	late.Close()
	late.cut()
	late.ended()
	if n := len(late.graces); n != 0 {
		t.Errorf("%d grace timers armed after Close, want none", n)
	}
}
