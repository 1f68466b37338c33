package gateway

import (
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/transport/spdy"
)

// spdyCloser is the client side of a spliced SPDY session, the SPDY
// counterpart of wsCloser: the upstream's bytes pass through Write, which
// follows the frame boundaries, and the client's through feedClient, which
// learns its error stream. When the gateway ends the session itself it
// sends a failure status on that stream between frames, so client-go
// reports the cut instead of reading a bare close as success. Mid-frame,
// after the upstream wrote on the error stream, or before the error stream
// is known, the client gets the bare close.
type spdyCloser struct {
	lastWordConn
	version protocol.Version

	// The client's direction: watch is fed by one goroutine (the splice's
	// client-to-upstream copier) and shares only these atomics, so a write
	// stuck on a slow client never holds up the client's own bytes.
	watch       *spdy.StreamWatch
	errorID     atomic.Uint32 // the client's error stream, 0 while unknown
	watchFailed atomic.Bool   // the client's stream was not SPDY as expected

	// The upstream's direction, under mu.
	hdr     [8]byte
	have    int
	left    int64 // payload bytes of the upstream's current frame
	errUsed bool  // the upstream wrote on the error stream
	pings   int   // keep-alive PINGs sent
}

func newSPDYCloser(c net.Conn, version string) *spdyCloser {
	v, _ := protocol.Lookup(protocol.SPDYVersions, version)
	return &spdyCloser{lastWordConn: lastWordConn{Conn: c}, version: v, watch: spdy.NewStreamWatch()}
}

// feedClient follows what the client sent, before it goes upstream (so the
// error stream is known before the upstream can answer on it); it never
// fails the session. One goroutine calls it.
func (w *spdyCloser) feedClient(p []byte) {
	if w.watchFailed.Load() {
		return
	}
	if w.watch.Feed(p) != nil {
		w.watchFailed.Store(true)
		return
	}
	w.errorID.Store(w.watch.ErrorStream())
}

func (w *spdyCloser) Write(p []byte) (int, error) {
	return w.write(p, w.follow)
}

// follow tracks the upstream's frame boundaries and any data frame on the
// client's error stream.
func (w *spdyCloser) follow(p []byte) {
	for len(p) > 0 {
		if w.left > 0 {
			k := min(int64(len(p)), w.left)
			w.left -= k
			p = p[k:]
			continue
		}
		k := copy(w.hdr[w.have:], p)
		w.have += k
		p = p[k:]
		if w.have < 8 {
			continue
		}
		w.have = 0
		w.left = int64(w.hdr[5])<<16 | int64(w.hdr[6])<<8 | int64(w.hdr[7])
		if w.hdr[0]&0x80 == 0 {
			id := binary.BigEndian.Uint32(w.hdr[:4]) & 0x7fffffff
			if id != 0 && id == w.errorID.Load() {
				w.errUsed = true
			}
		}
	}
}

// closeWith sends a failure status saying reason on the client's error
// stream, with FIN, if it can do so cleanly, and reports whether it did.
func (w *spdyCloser) closeWith(reason string) bool {
	w.lock()
	defer w.mu.Unlock()
	id := w.errorID.Load()
	if w.closed || w.watchFailed.Load() || id == 0 || w.errUsed || w.left > 0 || w.have > 0 {
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
	return w.say(frame)
}

// keepAlivePingID is the first of the gateway's PING ids toward a client:
// even, as the server's must be (the client answers with the same id), and
// counting down from the top so as not to meet the upstream's own, which
// count up and ignore a reply they did not ask for.
const keepAlivePingID = 0x7ffffffe

// ping writes a SPDY PING if the upstream stream is between frames and no
// write is in progress, and reports whether it did.
func (w *spdyCloser) ping() bool {
	if !w.mu.TryLock() {
		return false
	}
	defer w.mu.Unlock()
	if w.closed || w.left > 0 || w.have > 0 {
		return false
	}
	id := keepAlivePingID - 2*w.pings
	if id < 2 {
		w.pings, id = 0, keepAlivePingID
	}
	w.pings++
	frame := []byte{0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0} // SPDY/3 PING, length 4
	binary.BigEndian.PutUint32(frame[8:], uint32(id))
	return w.keepAlive(frame)
}
