package gateway

import (
	"bytes"
	"encoding/binary"

	"github.com/porthole/porthole/internal/idle"
)

// The gateway's keep-alive pings are its own business: the client's
// answers to them (a SPDY PING echoed with the gateway's id, a WebSocket
// pong with the gateway's payload) are taken out of the client's bytes
// before they go upstream. Passed on, they are bytes the upstream never
// asked for, and a kube-apiserver proxying the session closes its side
// with them unread when the session ends: that close is a reset, and the
// reset throws away what the API server had not yet sent, the session's
// last output and its status. kubectl, reading a bare close, exits 0.
// (An in-process upstream is porthole's own node, which would ignore them;
// they are taken out there too, so that they never count as activity for
// the idle timeout.)
//
// An echoFilter follows the client's frames just enough to find such
// answers. It holds back nothing but the first bytes of a frame while they
// are too few to judge it (a header split across two reads), which the
// upstream could not have used before the rest came anyway.
type echoFilter struct {
	// header is the length of the prefix judged first; judge, given a
	// prefix, returns the frame's total length and whether the frame is
	// dropped, or more > 0: the prefix length it needs instead.
	header int
	judge  func(h []byte) (total int64, drop bool, more int)

	hdr    [maxEchoHeader]byte // the current frame's prefix, while judged
	have   int                 // bytes of hdr filled
	need   int                 // prefix length to judge (0: header)
	inBody bool                // past the prefix, in the frame's remainder
	left   int64               // bytes of the remainder still to come
	drop   bool                // the current frame is dropped
	pre    [maxEchoHeader]byte // filter's pre, valid until the next call
	// pinger is the client's keep-alive: what the client sends, but for
	// its answers, is activity it is told of (see Gateway.keepAlive).
	pinger *idle.Pinger
}

// maxEchoHeader bounds a prefix judged: a WebSocket frame's header (2
// bytes, 8 of length, 4 of mask) or a pong of the gateway's.
const maxEchoHeader = 2 + 8 + 4 + len(wsKeepAlivePayload)

// filter returns the bytes to pass on for p: pre, bytes an earlier call
// held, then out, p's own, in place in p.
func (f *echoFilter) filter(p []byte) (pre, out []byte) {
	old := 0 // bytes of hdr that came before p
	if !f.inBody {
		old = f.have
	}
	w, i := 0, 0
	for i < len(p) {
		if f.inBody {
			n := int(min(f.left, int64(len(p)-i)))
			if !f.drop {
				if w != i {
					copy(p[w:], p[i:i+n])
				}
				w += n
			}
			i += n
			if f.left -= int64(n); f.left == 0 {
				f.inBody = false
			}
			continue
		}
		if f.need == 0 {
			f.need = f.header
		}
		n := copy(f.hdr[f.have:f.need], p[i:])
		f.have += n
		i += n
		if f.have < f.need {
			break // held: p ends inside the prefix
		}
		total, drop, more := f.judge(f.hdr[:f.have])
		if more > 0 {
			f.need = more
			continue
		}
		if !drop {
			if old > 0 {
				pre = f.pre[:copy(f.pre[:], f.hdr[:old])]
			}
			w += copy(p[w:], p[i-(f.have-old):i])
		}
		f.left, f.drop = total-int64(f.have), drop
		f.inBody = f.left > 0
		f.have, f.need, old = 0, 0, 0
	}
	if len(pre) > 0 || w > 0 {
		f.pinger.Touch()
	}
	return pre, p[:w]
}

// flush returns what is held when the client's bytes end: a frame cut
// short passes on as it came.
func (f *echoFilter) flush() []byte {
	if f.inBody {
		return nil
	}
	h := f.hdr[:f.have]
	f.have, f.need = 0, 0
	return h
}

// newSPDYEchoFilter drops the client's PING frames answering the
// gateway's keep-alives: even IDs from the top of the range, as
// spdyCloser.ping sends them (mine reports whether an ID is one of them).
// Every other frame, the client's own PINGs and its answers to the
// upstream's included, passes.
func newSPDYEchoFilter(mine func(id uint32) bool) *echoFilter {
	return &echoFilter{header: 8, judge: func(h []byte) (int64, bool, int) {
		total := 8 + (int64(h[5])<<16 | int64(h[6])<<8 | int64(h[7]))
		if !(h[0] == 0x80 && h[1] == 0x03 && h[2] == 0x00 && h[3] == 0x06 && total == 12) {
			return total, false, 0
		}
		if len(h) < 12 {
			return 0, false, 12
		}
		return total, mine(binary.BigEndian.Uint32(h[8:12])), 0
	}}
}

// wsKeepAlivePayload is the payload of the gateway's WebSocket pings; a
// pong carrying it answers one of them (RFC 6455 5.5.3), a pong carrying
// anything else goes upstream.
const wsKeepAlivePayload = "porthole"

// newWSEchoFilter drops the client's pongs answering the gateway's pings.
func newWSEchoFilter() *echoFilter {
	const pongLen = 2 + 4 + len(wsKeepAlivePayload) // masked, as a client's frames are
	return &echoFilter{header: 2, judge: func(h []byte) (int64, bool, int) {
		masked := h[1]&0x80 != 0
		size := int64(h[1] & 0x7f)
		hl := 2
		switch size {
		case 126:
			hl += 2
		case 127:
			hl += 8
		}
		if masked {
			hl += 4
		}
		pong := h[0] == 0x8a && h[1] == 0x80|byte(len(wsKeepAlivePayload))
		if pong {
			if len(h) < pongLen {
				return 0, false, pongLen
			}
			var p [len(wsKeepAlivePayload)]byte
			for i := range p {
				p[i] = h[6+i] ^ h[2+i%4]
			}
			return int64(pongLen), bytes.Equal(p[:], []byte(wsKeepAlivePayload)), 0
		}
		if len(h) < hl {
			return 0, false, hl
		}
		switch size {
		case 126:
			size = int64(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			size = int64(binary.BigEndian.Uint64(h[2:10]) & (1<<63 - 1))
		}
		return int64(hl) + size, false, 0
	}}
}
