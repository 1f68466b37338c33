package gateway

import (
	"encoding/binary"
	"net"
	"time"

	"github.com/porthole/porthole/transport/websocket"
)

// reasonShutdown is the cut reason of Gateway.Shutdown.
const reasonShutdown = "gateway shutting down"

// closeLinger bounds how long a closed session's client may take to read
// our close frame before the socket closes.
var closeLinger = 2 * time.Second

// Close codes the gateway sends when it ends a spliced WebSocket session
// itself (RFC 6455 7.4.1).
const (
	closePolicy     = 1008 // a limit or timeout of the gateway
	closeTooBig     = 1009 // a message over --max-message-bytes
	closeGoingAwy   = 1001 // the gateway is shutting down
	closeBadGateway = 1014 // the upstream reset the connection before its close frame
)

// reasonUpstreamReset is the last word when the upstream resets the
// connection before it ended the session: a reset discards what the
// upstream had not sent yet, so the session's end (its last output, its
// status) may be lost, and a bare close would pass for success.
const reasonUpstreamReset = "the upstream reset the connection before the session ended"

// wsCloser is the client side of a spliced WebSocket session: every byte
// the upstream sends passes through Write, which follows the frame
// boundaries, so that when the gateway ends the session itself it can
// still say why with a close frame. A close frame is only written between
// frames: in the middle of one it would corrupt the stream, and the client
// gets the EOF.
type wsCloser struct {
	lastWordConn
	frames websocket.FrameScanner // the upstream's frames
	sawEnd bool                   // the upstream sent its close frame
	lost   bool                   // the upstream's frames could not be followed
}

func newWSCloser(c net.Conn) *wsCloser {
	w := &wsCloser{lastWordConn: lastWordConn{Conn: c}}
	w.frames.Frame = func(f *websocket.Frame) (bool, error) {
		w.sawEnd = w.sawEnd || f.Opcode == websocket.OpClose
		return false, nil
	}
	return w
}

func (w *wsCloser) Write(p []byte) (int, error) { return w.write(p, w.follow) }

// WriteBuffers passes a gathered write on whole (see package gather).
func (w *wsCloser) WriteBuffers(b *net.Buffers) (int64, error) { return w.writeBuffers(b, w.follow) }

// follow tracks the upstream's frames in what went out.
func (w *wsCloser) follow(p []byte) {
	w.lost = w.lost || w.frames.Feed(p) != nil // a length no server sends
}

// between reports whether the upstream's stream is between frames, where
// a frame of the gateway's may go.
func (w *wsCloser) between() bool { return !w.sawEnd && !w.lost && w.frames.Between() }

// closeWith writes a close frame with code and reason (cut to the 123
// bytes a control frame carries) if the upstream stream is between frames,
// and reports whether it did.
func (w *wsCloser) closeWith(code uint16, reason string) bool {
	w.lock()
	defer w.mu.Unlock()
	if w.closed || !w.between() {
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
// message (RFC 6455 5.4). The client's pong echoes the payload, by which
// the gateway knows it and keeps it from the upstream (see echoFilter).
func (w *wsCloser) ping() bool {
	if !w.mu.TryLock() {
		return false
	}
	defer w.mu.Unlock()
	if w.closed || !w.between() {
		return false
	}
	return w.keepAlive(wsKeepAlivePing)
}

// wsKeepAlivePing is the gateway's ping frame: FIN, ping, its payload.
var wsKeepAlivePing = append([]byte{0x89, byte(len(wsKeepAlivePayload))}, wsKeepAlivePayload...)
