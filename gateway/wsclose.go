package gateway

import (
	"encoding/binary"
	"net"
	"time"
)

// reasonShutdown is the cut reason of Gateway.Shutdown.
const reasonShutdown = "gateway shutting down"

// closeLinger bounds how long a closed session's client may take to read
// our close frame before the socket closes.
var closeLinger = 2 * time.Second

// Close codes the gateway sends when it ends a spliced WebSocket session
// itself (RFC 6455 7.4.1).
const (
	closePolicy   = 1008 // a limit or timeout of the gateway
	closeTooBig   = 1009 // a message over --max-message-bytes
	closeGoingAwy = 1001 // the gateway is shutting down
)

// wsCloser is the client side of a spliced WebSocket session: every byte
// the upstream sends passes through Write, which follows the frame
// boundaries, so that when the gateway ends the session itself it can
// still say why with a close frame. A close frame is only written between
// frames: in the middle of one it would corrupt the stream, and the client
// gets the EOF.
type wsCloser struct {
	lastWordConn
	frames wsFrames // upstream frames: unmasked, unlimited
}

func newWSCloser(c net.Conn) *wsCloser {
	return &wsCloser{lastWordConn: lastWordConn{Conn: c}, frames: wsFrames{max: 1 << 62, tunnel: true}}
}

func (w *wsCloser) Write(p []byte) (int, error) {
	return w.write(p, func(p []byte) {
		_ = w.frames.feed(p) // never fails without a limit
	})
}

// closeWith writes a close frame with code and reason (cut to the 123
// bytes a control frame carries) if the upstream stream is between frames,
// and reports whether it did.
func (w *wsCloser) closeWith(code uint16, reason string) bool {
	w.lock()
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
	if !w.say(frame) {
		return false
	}
	_ = w.CloseWrite()
	return true
}

// ping writes a ping frame if the upstream stream is between frames and
// no write is in progress (a busy connection is not idle), and reports
// whether it did. Control frames may sit between the fragments of a
// message (RFC 6455 5.4). The client's pong goes upstream, where an
// unsolicited pong is ignored (5.5.3).
func (w *wsCloser) ping() bool {
	if !w.mu.TryLock() {
		return false
	}
	defer w.mu.Unlock()
	if w.closed || w.frames.sawEnd || w.frames.left > 0 || w.frames.have > 0 {
		return false
	}
	return w.keepAlive([]byte{0x89, 0x00}) // FIN, ping, no payload
}
