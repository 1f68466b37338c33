package gateway

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/transport/spdy"
)

// spdyCloser is the client side of a spliced SPDY session, the SPDY
// counterpart of wsCloser: the upstream's bytes pass through write, which
// follows the frame boundaries, and the client's through watch, which
// learns its error stream. When the gateway ends the session itself it
// sends a failure status on that stream between frames, so client-go
// reports the cut instead of reading a bare close as success. Mid-frame,
// after the upstream wrote on the error stream, or before the error stream
// is known, the client gets the bare close.
type spdyCloser struct {
	net.Conn
	version protocol.Version
	watch   *spdy.StreamWatch

	mu       sync.Mutex
	hdr      [8]byte
	have     int
	left     int64 // payload bytes of the upstream's current frame
	errUsed  bool  // the upstream wrote on the error stream
	closed   bool
	said     bool
	watchErr bool
}

func newSPDYCloser(c net.Conn, version string) *spdyCloser {
	v, _ := protocol.Lookup(protocol.SPDYVersions, version)
	return &spdyCloser{Conn: c, version: v, watch: spdy.NewStreamWatch()}
}

// feedClient follows what the client sent; it never fails the session.
func (w *spdyCloser) feedClient(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.watchErr && w.watch.Feed(p) != nil {
		w.watchErr = true
	}
}

func (w *spdyCloser) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, net.ErrClosed
	}
	n, err := w.Conn.Write(p)
	w.follow(p[:n])
	return n, err
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
			if id != 0 && id == w.watch.ErrorStream() {
				w.errUsed = true
			}
		}
	}
}

func (w *spdyCloser) CloseWrite() error {
	if cw, ok := w.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// closeWith sends a failure status saying reason on the client's error
// stream, with FIN, if it can do so cleanly, and reports whether it did.
func (w *spdyCloser) closeWith(reason string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := w.watch.ErrorStream()
	if w.closed || w.watchErr || id == 0 || w.errUsed || w.left > 0 || w.have > 0 {
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
	w.closed = true
	if _, err := w.Conn.Write(frame); err != nil {
		return false
	}
	w.said = true
	return true
}

// Close gives the client a moment to read the status before the socket
// goes (see wsCloser.Close).
func (w *spdyCloser) Close() error {
	w.mu.Lock()
	said := w.said
	w.mu.Unlock()
	if said {
		_ = w.Conn.SetReadDeadline(time.Now().Add(closeLinger))
		_, _ = io.Copy(io.Discard, w.Conn)
	}
	return w.Conn.Close()
}
