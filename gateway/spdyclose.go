package gateway

import (
	"encoding/binary"
	"errors"
	"net"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/transport/spdy"
)

// spdyCloser is the client side of a spliced SPDY session, the SPDY
// counterpart of wsCloser: the upstream's bytes pass through Write, which
// follows the frame boundaries; the inspector, following the client's
// bytes, learns its error stream. When the gateway ends the session itself it
// sends a failure status on that stream between frames, so client-go
// reports the cut instead of reading a bare close as success. Mid-frame,
// after the upstream wrote on the error stream, or before the error stream
// is known, the client gets the bare close.
type spdyCloser struct {
	lastWordConn
	version protocol.Version
	ids     *spdyStreamIDs // the client's streams, as the inspector learns them

	// The upstream's direction, under mu.
	frames  spdy.FrameScanner
	errUsed bool                // the upstream wrote on the error stream
	lost    bool                // the upstream's frames could not be followed
	pings   spdy.KeepAlivePings // the keep-alive's (Next under mu)
}

func newSPDYCloser(c net.Conn, version string, ids *spdyStreamIDs) *spdyCloser {
	v, _ := protocol.Lookup(protocol.SPDYVersions, version)
	w := &spdyCloser{lastWordConn: lastWordConn{Conn: c}, version: v, ids: ids}
	w.frames.Frame = func(f *spdy.Frame) (bool, error) {
		w.errUsed = w.errUsed || f.IsData(w.ids.errorID.Load())
		return false, nil
	}
	return w
}

func (w *spdyCloser) Write(p []byte) (int, error) { return w.write(p, w.follow) }

// WriteBuffers passes a gathered write on whole (see package gather).
func (w *spdyCloser) WriteBuffers(b *net.Buffers) (int64, error) { return w.writeBuffers(b, w.follow) }

// follow tracks the upstream's frames in what went out.
func (w *spdyCloser) follow(p []byte) {
	w.lost = w.lost || w.frames.Feed(p) != nil // no header decoding: it cannot fail
}

// between reports whether the upstream's stream is between frames, where
// a frame of the gateway's may go.
func (w *spdyCloser) between() bool { return !w.lost && w.frames.Between() }

// closeWith sends a failure status saying reason on the client's error
// stream, with FIN, if it can do so cleanly, and reports whether it did.
func (w *spdyCloser) closeWith(reason string) bool {
	w.lock()
	defer w.mu.Unlock()
	id := w.ids.errorID.Load()
	if w.closed || id == 0 || w.errUsed || !w.between() {
		return false
	}
	var payload []byte
	switch {
	case w.version.StatusJSON:
		payload = status.NewInternalError(errors.New("the gateway ended the session: " + reason)).Marshal()
	default:
		payload = []byte("the gateway ended the session: " + reason)
	}
	frame := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(frame[:4], id)
	frame[4] = 0x01 // FIN
	frame[5], frame[6], frame[7] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	frame = append(frame, payload...)
	if !w.say(frame) {
		return false
	}
	// The end of the gateway's sending: client-go reads the status only
	// once stdout and stderr end, which they do at this EOF, not after the
	// lingering close gives up on a client that is waiting for them.
	_ = w.CloseWrite()
	return true
}

// ping writes a SPDY PING if the upstream stream is between frames and no
// write is in progress, and reports whether it did.
func (w *spdyCloser) ping() bool {
	if !w.mu.TryLock() {
		return false
	}
	defer w.mu.Unlock()
	if w.closed || !w.between() {
		return false
	}
	frame := w.pings.Next()
	return w.keepAlive(frame[:])
}

// mine reports whether a PING the client sends with id answers one of the
// gateway's keep-alives (see echoFilter).
func (w *spdyCloser) mine(id uint32) bool { return w.pings.Answers(id) }
