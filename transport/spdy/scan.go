package spdy

import "fmt"

// Frame is what a FrameScanner learns of one frame from its header.
type Frame struct {
	Control bool
	Type    uint16 // control frames: typeSynStream...
	Flags   uint8
	// StreamID of a data frame or of a per-stream control frame
	// (SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS); 0 otherwise.
	StreamID uint32
	// PingID is a PING's ID; 0 for other frames.
	PingID uint32
	// Length is the payload's length, after the stream ID of a
	// per-stream control frame (or a PING's ID).
	Length int
}

// Fin reports the frame's FIN flag (data, SYN_STREAM, SYN_REPLY, HEADERS).
func (f *Frame) Fin() bool { return f.Flags&flagFin != 0 }

// IsData reports whether f is a DATA frame of stream id.
func (f *Frame) IsData(id uint32) bool { return !f.Control && id != 0 && f.StreamID == id }

// FrameScanner follows the SPDY/3.1 frames of a byte stream, fed in pieces
// of any size (PROTOCOL.md 4.6). It never alters the bytes and keeps none but
// a header frame being decoded. The transport watches its inbound frames
// with it; the gateway follows a spliced session's two directions with it.
type FrameScanner struct {
	// Frame, when set, is called at each frame's header, once the stream
	// ID of a per-stream control frame is known too; it returns whether
	// the frame's payload goes to Payload, or an error that stops the scan.
	Frame func(f *Frame) (payload bool, err error)
	// Payload receives the payload of the frames asked for as it passes;
	// p is valid only during the call.
	Payload func(f *Frame, p []byte)
	// Header, when set, makes the scanner decode every header block, with
	// the limits of a Conn (ErrHeaderLimit), keeping the direction's zlib
	// stream in step, and report the short headers (names and values of
	// at most 64 bytes) of each SYN_STREAM.
	Header func(streamID uint32, name, value []byte)

	hdr     [frameHeaderLen + 4]byte
	have    int // bytes of hdr collected
	need    int // bytes of hdr wanted (0: a frame header's 8)
	cur     Frame
	left    int64 // payload bytes of cur still to pass
	want    bool  // cur's payload goes to Payload
	block   []byte
	blockAt int // where the header block starts in block (nil block: none)
	dec     headerDecoder
	err     error
}

// Between reports whether the stream is at a frame boundary: a proxy may
// slip a frame of its own in only there.
func (s *FrameScanner) Between() bool { return s.have == 0 && s.left == 0 && s.block == nil }

// Feed follows the next bytes of the stream. After an error (a header block
// over the limits, or not SPDY) the scanner stops and returns it again.
func (s *FrameScanner) Feed(p []byte) error {
	for len(p) > 0 && s.err == nil {
		if s.left > 0 {
			n := min(int64(len(p)), s.left)
			switch {
			case s.block != nil:
				s.block = append(s.block, p[:n]...)
			case s.want:
				s.Payload(&s.cur, p[:n])
			}
			s.left -= n
			p = p[n:]
			if s.left == 0 && s.block != nil {
				s.err = s.decode()
			}
			continue
		}
		if s.need == 0 {
			s.need = frameHeaderLen
		}
		k := copy(s.hdr[s.have:s.need], p)
		s.have += k
		p = p[k:]
		if s.have == s.need {
			s.err = s.header()
		}
	}
	return s.err
}

// header reads a complete frame header (and stream ID).
func (s *FrameScanner) header() error {
	h := s.hdr[:]
	length := int(h[5])<<16 | int(h[6])<<8 | int(h[7])
	f := Frame{Flags: h[4], Length: length}
	if h[0]&0x80 == 0 {
		f.StreamID = be32(h[0:4]) & 0x7fffffff
	} else {
		f.Control = true
		f.Type = uint16(h[2])<<8 | uint16(h[3])
		perStream := f.Type == typeSynStream || f.Type == typeSynReply || f.Type == typeRstStream || f.Type == typeHeaders
		if (perStream || f.Type == typePing) && length >= 4 {
			if s.need == frameHeaderLen {
				s.need = frameHeaderLen + 4 // collect the stream or PING ID too
				return nil
			}
			if perStream {
				f.StreamID = be32(h[8:12]) & 0x7fffffff
			} else {
				f.PingID = be32(h[8:12])
			}
			f.Length = length - 4
		}
	}
	s.have, s.need = 0, 0
	s.cur, s.left, s.want = f, int64(f.Length), false
	if prefix := headerBlockOffset(h); prefix > 0 && s.Header != nil {
		if length > maxHeaderFrame {
			return fmt.Errorf("%w: header frame of %d bytes, frame limit %d bytes", ErrHeaderLimit, length, maxHeaderFrame)
		}
		if length < prefix {
			return fmt.Errorf("%w: header frame of %d bytes, shorter than its fixed fields", ErrProtocol, length)
		}
		s.block, s.blockAt = make([]byte, 0, f.Length), prefix-4
		if s.left == 0 {
			if err := s.decode(); err != nil {
				return err
			}
		}
	}
	if s.Frame != nil {
		want, err := s.Frame(&s.cur)
		if err != nil {
			return err
		}
		s.want = want && s.Payload != nil
	}
	return nil
}

// decode checks a collected header frame's block; every block must be
// decoded, in order, to keep the shared zlib stream in step.
func (s *FrameScanner) decode() error {
	var syn uint32
	if s.cur.Type == typeSynStream {
		syn = s.cur.StreamID
	}
	s.dec.onHeader = func(name, value []byte) {
		if syn != 0 {
			s.Header(syn, name, value)
		}
	}
	err := s.dec.check(s.block[s.blockAt:])
	s.block = nil
	return err
}
