package spdy

import (
	"bytes"
	"fmt"

	"github.com/porthole/porthole/protocol"
)

// StreamWatch follows the client's half of a SPDY session that a proxy
// passes through unchanged, and learns from the SYN_STREAM headers which
// stream is the exec or attach error stream, so that a proxy ending the
// session itself can still send the client a status there (a bare close
// reads as success to client-go). It decodes header blocks with the same
// bounds as a Conn and keeps no data.
type StreamWatch struct {
	hdr     [frameHeaderLen]byte
	have    int
	skip    int64  // payload bytes of the current frame to pass
	frame   []byte // a header frame being collected
	need    int
	dec     headerDecoder
	synID   uint32 // the SYN_STREAM being decoded
	errorID uint32
	err     error
}

// NewStreamWatch returns a watch for one client-to-server byte stream.
func NewStreamWatch() *StreamWatch {
	w := &StreamWatch{}
	w.dec.onHeader = func(name, value []byte) {
		if w.synID != 0 && bytes.EqualFold(name, []byte(protocol.HeaderStreamType)) && string(value) == protocol.StreamError {
			w.errorID = w.synID
		}
	}
	return w
}

// ErrorStream is the ID of the client's error stream, 0 while unknown.
func (w *StreamWatch) ErrorStream() uint32 { return w.errorID }

// Feed takes the next bytes the client sent. An error means the stream is
// not SPDY as expected (or breaks the header limits); the watch then stops.
func (w *StreamWatch) Feed(p []byte) error {
	for len(p) > 0 && w.err == nil {
		switch {
		case w.skip > 0:
			n := min(int64(len(p)), w.skip)
			w.skip -= n
			p = p[n:]
		case w.frame != nil:
			n := copy(w.frame[len(w.frame):w.need], p)
			w.frame = w.frame[:len(w.frame)+n]
			p = p[n:]
			if len(w.frame) == w.need {
				w.err = w.headerFrame()
				w.frame = nil
			}
		default:
			n := copy(w.hdr[w.have:], p)
			w.have += n
			p = p[n:]
			if w.have == frameHeaderLen {
				w.have = 0
				w.err = w.frameHeader()
			}
		}
	}
	return w.err
}

func (w *StreamWatch) frameHeader() error {
	h := w.hdr[:]
	length := int(h[5])<<16 | int(h[6])<<8 | int(h[7])
	prefix := headerBlockOffset(h)
	if prefix == 0 {
		w.skip = int64(length)
		return nil
	}
	if length > maxHeaderFrame {
		return fmt.Errorf("%w: header frame of %d bytes, frame limit %d bytes", ErrHeaderLimit, length, maxHeaderFrame)
	}
	if length < prefix {
		return fmt.Errorf("%w: header frame of %d bytes, shorter than its fixed fields", ErrProtocol, length)
	}
	w.frame = make([]byte, 0, length)
	w.need = length
	if length == 0 {
		w.frame = nil
	}
	return nil
}

// headerFrame decodes a collected header frame's block; every block must
// be decoded, in order, to keep the shared zlib stream in step.
func (w *StreamWatch) headerFrame() error {
	typ := uint16(w.hdr[2])<<8 | uint16(w.hdr[3])
	w.synID = 0
	if typ == typeSynStream {
		w.synID = be32(w.frame[:4]) & 0x7fffffff
	}
	err := w.dec.check(w.frame[headerBlockOffset(w.hdr[:]):])
	w.synID = 0
	return err
}
