package gateway

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"
)

// reasonShutdown is the cut reason of Gateway.Shutdown.
const reasonShutdown = "gateway shutting down"

// closeLinger bounds how long a closed session's client may take to read
// our close frame before the socket closes.
const closeLinger = 2 * time.Second

// Close codes the gateway sends when it ends a spliced WebSocket session
// itself (RFC 6455 7.4.1).
const (
	closePolicy   = 1008 // a limit or timeout of the gateway
	closeTooBig   = 1009 // a message over --max-message-bytes
	closeGoingAwy = 1001 // the gateway is shutting down
)

// wsCloser is the client side of a spliced WebSocket session: every byte
// the upstream sends passes through write, which follows the frame
// boundaries, so that when the gateway ends the session itself it can
// still say why with a close frame (a bare EOF is all the client would
// get otherwise). A close frame is only written between frames: in the
// middle of one it would corrupt the stream, and the client gets the EOF.
type wsCloser struct {
	net.Conn
	mu     sync.Mutex
	frames wsFrames // upstream frames: unmasked, unlimited
	closed bool     // no more writes: our close frame is (being) written
	said   bool     // our close frame went out
}

func newWSCloser(c net.Conn) *wsCloser {
	return &wsCloser{Conn: c, frames: wsFrames{max: 1 << 62, tunnel: true}}
}

func (w *wsCloser) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, net.ErrClosed
	}
	n, err := w.Conn.Write(p)
	_ = w.frames.feed(p[:n]) // never fails without a limit
	return n, err
}

// CloseWrite keeps the half-close of the splice working through the wrapper.
func (w *wsCloser) CloseWrite() error {
	if cw, ok := w.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// closeWith writes a close frame with code and reason (cut to the 123
// bytes a control frame carries) if the upstream stream is between frames,
// and reports whether it did.
func (w *wsCloser) closeWith(code uint16, reason string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.frames.sawEnd || w.frames.left > 0 || w.frames.have > 0 {
		return false
	}
	if len(reason) > 123 {
		reason = reason[:123]
	}
	frame := make([]byte, 4, 4+len(reason))
	frame[0] = 0x88 // FIN, close
	frame[1] = byte(2 + len(reason))
	binary.BigEndian.PutUint16(frame[2:], code)
	frame = append(frame, reason...)
	w.closed = true
	if _, err := w.Conn.Write(frame); err != nil {
		return false
	}
	w.said = true
	_ = w.CloseWrite()
	return true
}

// Close lets the client read a close frame we sent before the socket goes:
// closing with its unread bytes pending would reset the connection, and a
// reset can destroy the frame before the client reads it.
func (w *wsCloser) Close() error {
	w.mu.Lock()
	said := w.said
	w.mu.Unlock()
	if said {
		_ = w.Conn.SetReadDeadline(time.Now().Add(closeLinger))
		_, _ = io.Copy(io.Discard, w.Conn)
	}
	return w.Conn.Close()
}
