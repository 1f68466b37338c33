package spdy

import (
	"sync"
	"time"

	"github.com/porthole/porthole/internal/hangup"
	"github.com/porthole/porthole/stream"
)

// stallCheck is how often a server connection looks whether spdystream's
// reader is stuck (see stallWatch).
const stallCheck = time.Second

// pingProbe is a SPDY/3 PING frame with an even (server) ID, which the
// client echoes and our spdystream ignores: no Ping of ours waits for it.
var pingProbe = []byte{0x80, 3, 0, 6, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xfe}

// stallWatch notices a client that vanished while spdystream's reader was
// stuck handing a frame to a stream nobody reads (a process that does not
// read its stdin, see the package doc on shared fate): nobody reads the
// socket then, so its end goes unseen and the session would live on. When
// the reader has not read for a whole period, the watch looks at the
// socket: a peer that is gone aborts the connection. Otherwise it sends a
// PING: a killed client's FIN may be stuck behind the data we do not take,
// but its kernel answers new data with a reset. It runs on a timer, so an
// idle connection costs no goroutine.
type stallWatch struct {
	c *Conn

	mu      sync.Mutex
	t       *time.Timer
	last    uint64 // the wire's read count at the previous check
	stopped bool
}

func (c *Conn) startStallWatch() {
	w := &stallWatch{c: c, last: 1}
	w.mu.Lock()
	w.t = time.AfterFunc(stallCheck, w.check)
	w.mu.Unlock()
	c.stall = w
}

func (w *stallWatch) check() {
	if w.gone() {
		w.c.peerGone()
	}
}

// gone runs one check and re-arms the timer unless the peer is gone.
func (w *stallWatch) gone() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	n := w.c.wire.reads.Load()
	stuck := n%2 == 0 && n == w.last // not in a Read, and none since the last check
	w.last = n
	if stuck {
		if hangup.Gone(w.c.wire.Conn) {
			w.stopped = true
			return true
		}
		w.c.wire.probe(pingProbe)
	}
	w.t.Reset(stallCheck)
	return false
}

// stop ends the watch; a check running now does nothing more after it.
func (w *stallWatch) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.stopped = true
	w.t.Stop()
	w.mu.Unlock()
}

// peerGone aborts the connection of a vanished peer; Done closes with
// stream.ErrPeerGone.
func (c *Conn) peerGone() {
	c.log.Info("spdy: peer gone while its data waited")
	c.terminate(false, &stream.ConnError{Op: "read frame", Err: stream.ErrPeerGone})
	c.ended(nil)
}
