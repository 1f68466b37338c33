package gateway

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
)

// inspector returns the check applied to the client's bytes of a spliced
// session: frame headers are parsed (payloads are not copied or unmasked,
// except one byte for the WebSocket channel) so that an oversized frame or
// a resize flood ends the session. The limit errors end only that session.
//
// With onResize, the payloads of the client's resize messages (the JSON
// sizes) are handed to it, for the recording: on WebSocket channel 4, on
// SPDY the resize stream, whose ID follows from client-go's stream order
// for a tty session (error 1, stdin 3 if requested, stdout, resize).
func (g *Gateway) inspector(s *session, onResize func([]byte)) func([]byte) error {
	switch s.wireIn {
	case string(protocol.WebSocket):
		fi := &wsFrames{max: g.opts.MaxMessageBytes, resizes: newRate(g.opts.MaxResizePerSecond), tunnel: s.verb == "portforward", onResize: onResize}
		return fi.feed
	case string(protocol.SPDY):
		fi := &spdyFrames{max: g.opts.MaxMessageBytes}
		if onResize != nil && s.tty {
			fi.resizeID, fi.onResize = 5, onResize
			if s.stdin {
				fi.resizeID = 7
			}
		}
		return fi.feed
	}
	return nil
}

// maxResizeMessage bounds what is collected of one resize message.
const maxResizeMessage = 1024

// LimitError ends a session that broke a limit.
type LimitError struct {
	Msg  string
	Code uint16 // WebSocket close code for the client (0: policy violation)
}

func (e *LimitError) closeCode() uint16 {
	if e.Code == 0 {
		return closePolicy
	}
	return e.Code
}

func (e *LimitError) Error() string { return e.Msg }

// wsFrames follows RFC 6455 framing of a client's byte stream.
type wsFrames struct {
	max     int64
	resizes *rate
	tunnel  bool
	hdr     [14]byte
	have    int   // header bytes collected
	need    int   // header length once known (0: unknown)
	left    int64 // payload bytes still to skip
	first   bool  // next payload byte is the first of a data frame
	mask    [4]byte
	sawEnd  bool // a close frame went by
	// onResize receives each resize message's payload (after the
	// channel byte), unmasked; collecting says the frame is one.
	onResize   func([]byte)
	collecting bool
	pos        int64 // payload offset in the frame, for the mask
	resize     []byte
}

func (f *wsFrames) feed(p []byte) error {
	for len(p) > 0 {
		if f.left > 0 {
			if f.first {
				ch := p[0] ^ f.mask[0]
				if ch == channel.Resize && !f.tunnel && !f.resizes.allow() {
					return &LimitError{Msg: "resize flood: more than the allowed resize messages per second"}
				}
				f.first = false
				f.collecting = ch == channel.Resize && !f.tunnel && f.onResize != nil && f.hdr[0]&0x80 != 0
				f.resize = f.resize[:0]
				f.pos, f.left, p = 1, f.left-1, p[1:]
				if f.left == 0 {
					f.endFrame()
				}
				continue
			}
			n := int64(len(p))
			if n > f.left {
				n = f.left
			}
			if f.collecting {
				for i := int64(0); i < n && len(f.resize) < maxResizeMessage; i++ {
					f.resize = append(f.resize, p[i]^f.mask[(f.pos+i)%4])
				}
			}
			f.pos += n
			f.left -= n
			p = p[n:]
			if f.left == 0 {
				f.endFrame()
			}
			continue
		}
		f.hdr[f.have] = p[0]
		f.have++
		p = p[1:]
		if f.have == 2 {
			f.need = 2
			switch f.hdr[1] & 0x7f {
			case 126:
				f.need += 2
			case 127:
				f.need += 8
			}
			if f.hdr[1]&0x80 != 0 {
				f.need += 4
			}
		}
		if f.have < 2 || f.have < f.need {
			continue
		}
		if err := f.header(); err != nil {
			return err
		}
	}
	return nil
}

// endFrame hands a complete resize message to onResize.
func (f *wsFrames) endFrame() {
	if f.collecting {
		f.onResize(f.resize)
		f.collecting = false
	}
}

// header reads a complete frame header.
func (f *wsFrames) header() error {
	length := int64(f.hdr[1] & 0x7f)
	off := 2
	switch length {
	case 126:
		length = int64(binary.BigEndian.Uint16(f.hdr[2:4]))
		off = 4
	case 127:
		u := binary.BigEndian.Uint64(f.hdr[2:10])
		if u > 1<<62 {
			return &LimitError{Msg: "websocket frame length invalid", Code: 1002}
		}
		length = int64(u)
		off = 10
	}
	if f.hdr[1]&0x80 != 0 {
		copy(f.mask[:], f.hdr[off:off+4])
	} else {
		f.mask = [4]byte{}
	}
	opcode := f.hdr[0] & 0x0f
	if opcode == 8 {
		f.sawEnd = true
	}
	if length > f.max {
		return &LimitError{Msg: fmt.Sprintf("websocket message of %d bytes exceeds the limit of %d", length, f.max), Code: closeTooBig}
	}
	f.left = length
	f.first = opcode == 1 || opcode == 2 // text or binary; not continuation or control
	f.pos = 0
	f.have, f.need = 0, 0
	return nil
}

// spdyFrames follows SPDY/3 framing: 8-byte header, 24-bit length.
type spdyFrames struct {
	max  int64
	hdr  [8]byte
	have int
	left int64
	// resizeID's DATA payloads go to onResize (0: none).
	resizeID uint32
	onResize func([]byte)
	inResize bool
}

func (f *spdyFrames) feed(p []byte) error {
	for len(p) > 0 {
		if f.left > 0 {
			n := int64(len(p))
			if n > f.left {
				n = f.left
			}
			if f.inResize {
				f.onResize(p[:n])
			}
			f.left -= n
			p = p[n:]
			continue
		}
		n := copy(f.hdr[f.have:], p)
		f.have += n
		p = p[n:]
		if f.have < 8 {
			continue
		}
		f.have = 0
		f.left = int64(f.hdr[5])<<16 | int64(f.hdr[6])<<8 | int64(f.hdr[7])
		if f.left > f.max {
			return &LimitError{Msg: fmt.Sprintf("spdy frame of %d bytes exceeds the limit of %d", f.left, f.max)}
		}
		f.inResize = f.resizeID != 0 && f.hdr[0]&0x80 == 0 && binary.BigEndian.Uint32(f.hdr[0:4]) == f.resizeID
	}
	return nil
}

// rate allows n events per second (a fixed one-second window).
type rate struct {
	n      int
	window time.Time
	count  int
}

func newRate(n int) *rate { return &rate{n: n} }

func (r *rate) allow() bool {
	now := time.Now()
	if now.Sub(r.window) >= time.Second {
		r.window, r.count = now, 0
	}
	r.count++
	return r.count <= r.n
}
