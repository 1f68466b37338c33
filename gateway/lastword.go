package gateway

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/porthole/porthole/internal/gather"
	"github.com/porthole/porthole/internal/idle"
)

// lastWordConn is the client side of a spliced session on which the
// gateway, ending the session itself, may still say why (a WebSocket close
// frame, a SPDY failure status): a bare close is all the client would get
// otherwise. The upstream's writes and the last word are ordered by mu, so
// the word only goes out between two of the upstream's frames; wsCloser
// and spdyCloser know where those lie.
type lastWordConn struct {
	net.Conn
	mu     sync.Mutex
	closed bool // no more writes: the last word is (being) written
	said   bool // the last word went out
	// pinger is the client's keep-alive, told of every write of the
	// upstream's; set before the splice starts.
	pinger *idle.Pinger
}

// touches makes the upstream's writes count as activity for k.
func (c *lastWordConn) touches(k *idle.Pinger) { c.pinger = k }

// write passes the upstream's bytes on and hands them to follow, which
// tracks the frame boundaries.
func (c *lastWordConn) write(p []byte, follow func([]byte)) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.pinger.Touch()
	n, err := c.Conn.Write(p)
	follow(p[:n])
	return n, err
}

// writeBuffers is write for buffers in one gathered write (see package
// gather), handing follow what went out, in order.
func (c *lastWordConn) writeBuffers(b *net.Buffers, follow func([]byte)) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.pinger.Touch()
	var parts [4][]byte // the writes consume *b's slices: follow needs them as they were
	if len(*b) > len(parts) {
		return gather.Each(func(p []byte) (int, error) {
			n, err := c.Conn.Write(p)
			follow(p[:n])
			return n, err
		}, b)
	}
	copy(parts[:], *b)
	n, err := gather.To(c.Conn, b)
	for left, i := n, 0; left > 0; i++ {
		k := min(int64(len(parts[i])), left)
		follow(parts[i][:k])
		left -= k
	}
	return n, err
}

// lock takes mu for the last word. A write stuck on a client that stopped
// reading holds mu; the deadline bounds that wait (and the word's own
// write), so ending a session never hangs on its client. The session is
// ending either way: a write cut by the deadline ends it mid-frame and the
// client gets the bare close.
func (c *lastWordConn) lock() {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(closeLinger))
	c.mu.Lock()
}

// say writes the last word, mu held, and reports whether it went out.
// Nothing is written after it.
func (c *lastWordConn) say(frame []byte) bool {
	c.closed = true
	if _, err := c.Conn.Write(frame); err != nil {
		return false
	}
	c.said = true
	return true
}

// keepAlive writes a keep-alive frame, mu held, and reports whether it
// went out whole. It sets no deadline of its own: clearing one afterwards
// would undo a cut's (which sets the socket's deadline without mu), and a
// ping blocked on a frozen client is ended by that cut or the splice's
// close like any write of the upstream's.
func (c *lastWordConn) keepAlive(frame []byte) bool {
	n, err := c.Conn.Write(frame)
	if err != nil && n > 0 {
		c.closed = true // cut mid-frame: nothing more may follow
	}
	return err == nil
}

// underlying is the socket, for a readiness wait on it.
func (c *lastWordConn) underlying() net.Conn { return c.Conn }

// CloseWrite keeps the half-close of the splice working through the wrapper.
func (c *lastWordConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close lets the client read the last word before the socket goes: closing
// with its unread bytes pending would reset the connection, and a reset can
// destroy the word before the client reads it. It waits up to closeLinger
// for the client to close, so the splice calls it from the session's own
// goroutine, never from a cut (which the gateway runs for many sessions).
func (c *lastWordConn) Close() error {
	c.mu.Lock()
	said := c.said
	c.mu.Unlock()
	if said {
		_ = c.Conn.SetReadDeadline(time.Now().Add(closeLinger))
		_, _ = io.Copy(io.Discard, c.Conn)
	}
	return c.Conn.Close()
}
