package websocket

import (
	"encoding/binary"
	"errors"
)

// Opcodes of RFC 6455 section 5.2.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// ErrFrameLength reports a frame whose 64-bit length has its top bits set,
// which no peer may send (RFC 6455 5.2): the stream cannot be followed.
var ErrFrameLength = errors.New("websocket frame length invalid")

// Frame is what a FrameScanner learns of one frame from its header.
type Frame struct {
	Fin    bool
	Opcode byte
	Masked bool
	Mask   [4]byte
	Length int64 // payload bytes
}

// FrameScanner follows the RFC 6455 frames of a byte stream that passes
// through a proxy, fed in pieces of any size. It never alters or keeps the
// bytes and does not unmask what it is not asked for: the gateway's
// inspector, recorder and closer follow a spliced session with it.
type FrameScanner struct {
	// Frame, when set, is called with each frame's header; it returns
	// whether the frame's payload goes to Payload, or an error that stops
	// the scan.
	Frame func(f *Frame) (payload bool, err error)
	// Payload receives the payload of the frames asked for, as it passes:
	// p holds the bytes at offset off of the frame's payload, still masked
	// (see Unmask), and is valid only during the call. An error stops the
	// scan.
	Payload func(f *Frame, off int64, p []byte) error

	hdr  [14]byte
	have int   // header bytes collected
	need int   // header length once known (0: unknown)
	cur  Frame // the frame whose payload is passing
	off  int64 // payload bytes of cur passed
	want bool  // cur's payload goes to Payload
	err  error
}

// Between reports whether the stream is at a frame boundary: a proxy may
// slip a frame of its own in only there.
func (s *FrameScanner) Between() bool { return s.have == 0 && s.off == s.cur.Length }

// Feed follows the next bytes of the stream. After an error the scanner
// stops and returns it again.
func (s *FrameScanner) Feed(p []byte) error {
	for len(p) > 0 && s.err == nil {
		if left := s.cur.Length - s.off; left > 0 {
			n := min(int64(len(p)), left)
			if s.want {
				if err := s.Payload(&s.cur, s.off, p[:n]); err != nil {
					s.err = err
					return err
				}
			}
			s.off += n
			p = p[n:]
			continue
		}
		s.hdr[s.have] = p[0]
		s.have++
		p = p[1:]
		if s.have == 2 {
			s.need = 2
			switch s.hdr[1] & 0x7f {
			case 126:
				s.need += 2
			case 127:
				s.need += 8
			}
			if s.hdr[1]&0x80 != 0 {
				s.need += 4
			}
		}
		if s.have >= 2 && s.have == s.need {
			s.err = s.header()
		}
	}
	return s.err
}

// header reads a complete frame header.
func (s *FrameScanner) header() error {
	h := s.hdr[:s.need]
	f := Frame{Fin: h[0]&0x80 != 0, Opcode: h[0] & 0x0f, Masked: h[1]&0x80 != 0, Length: int64(h[1] & 0x7f)}
	off := 2
	switch f.Length {
	case 126:
		f.Length = int64(binary.BigEndian.Uint16(h[2:4]))
		off = 4
	case 127:
		u := binary.BigEndian.Uint64(h[2:10])
		if u > 1<<62 {
			return ErrFrameLength
		}
		f.Length = int64(u)
		off = 10
	}
	if f.Masked {
		copy(f.Mask[:], h[off:off+4])
	}
	s.cur, s.off, s.want, s.have, s.need = f, 0, false, 0, 0
	if s.Frame != nil {
		want, err := s.Frame(&s.cur)
		if err != nil {
			return err
		}
		s.want = want && s.Payload != nil
	}
	return nil
}

// Unmask appends to dst the bytes p of a frame's payload at offset off,
// unmasked with mask (RFC 6455 5.3).
func Unmask(dst []byte, mask [4]byte, off int64, p []byte) []byte {
	for i, b := range p {
		dst = append(dst, b^mask[(off+int64(i))%4])
	}
	return dst
}
