package gateway

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/porthole/porthole/transport/spdy"
)

// spdyFrame is a SPDY/3 frame: a data frame on stream id, or with ctl set
// a control frame of that type.
func spdyFrame(ctl bool, idOrType uint32, payload []byte) []byte {
	f := make([]byte, 8, 8+len(payload))
	if ctl {
		f[0], f[1] = 0x80, 0x03
		binary.BigEndian.PutUint16(f[2:], uint16(idOrType))
	} else {
		binary.BigEndian.PutUint32(f, idOrType)
	}
	f[5], f[6], f[7] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	return append(f, payload...)
}

func spdyPing(id uint32) []byte {
	return spdyFrame(true, 6, binary.BigEndian.AppendUint32(nil, id))
}

// wsClientFrame is a masked RFC 6455 frame with opcode op.
func wsClientFrame(op byte, payload []byte, mask [4]byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, mask[:]...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	return f
}

// runFilter feeds in to f in the pieces cut at the given lengths and
// returns what f passes on, flushed at the end.
func runFilter(f *echoFilter, in []byte, cuts []int) []byte {
	var got []byte
	feed := func(p []byte) {
		p = append([]byte(nil), p...) // filter works in place
		pre, out := f.filter(p)
		got = append(append(got, pre...), out...)
	}
	for _, c := range cuts {
		c = min(c, len(in))
		feed(in[:c])
		in = in[c:]
	}
	feed(in)
	return append(got, f.flush()...)
}

// TestEchoFilter: whatever the reads' boundaries, the client's answers to
// the gateway's keep-alives are taken out and every other byte passes in
// order: data, the client's own pings, its answers to the upstream's, a
// pong with another payload, frames that only look like answers at first.
func TestEchoFilter(t *testing.T) {
	mine := func(id uint32) bool { return id%2 == 0 && id >= spdy.KeepAlivePingID-20 }
	rng := rand.New(rand.NewPCG(1, 2))
	payload := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
		return p
	}
	mask := func() [4]byte {
		return [4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
	}
	for _, tc := range []struct {
		name   string
		filter func() *echoFilter
		frame  func(i int) (b []byte, dropped bool)
	}{
		{"spdy", func() *echoFilter { return newSPDYEchoFilter(mine) }, func(i int) ([]byte, bool) {
			switch i % 7 {
			case 0:
				return spdyPing(spdy.KeepAlivePingID - 2*uint32(rng.IntN(10))), true
			case 1:
				return spdyPing(uint32(2*rng.IntN(100) + 1)), false // the client's own
			case 2:
				return spdyPing(uint32(2 * rng.IntN(100))), false // answering the upstream
			case 3:
				return spdyFrame(true, 6, payload(8)), false // a PING of the wrong length
			case 4:
				return spdyFrame(true, 1, payload(rng.IntN(40))), false // SYN_STREAM-like
			default:
				return spdyFrame(false, uint32(rng.IntN(9)+1), payload(rng.IntN(70000))), false
			}
		}},
		{"websocket", newWSEchoFilter, func(i int) ([]byte, bool) {
			switch i % 6 {
			case 0:
				return wsClientFrame(0xa, []byte(wsKeepAlivePayload), mask()), true
			case 1:
				return wsClientFrame(0xa, []byte("portholf"), mask()), false
			case 2:
				return wsClientFrame(0xa, nil, mask()), false
			case 3:
				return wsClientFrame(0x9, []byte(wsKeepAlivePayload), mask()), false // a ping, not a pong
			default:
				return wsClientFrame(0x2, payload(rng.IntN(70000)), mask()), false
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in, want []byte
			dropped := 0
			for range 300 {
				b, drop := tc.frame(rng.IntN(1000))
				in = append(in, b...)
				if drop {
					dropped++
				} else {
					want = append(want, b...)
				}
			}
			if dropped == 0 {
				t.Fatal("no answer in the stream")
			}
			for round := range 50 {
				var cuts []int
				switch round {
				case 0: // whole
				case 1: // a byte at a time
					for range len(in) {
						cuts = append(cuts, 1)
					}
				default:
					for range 200 {
						cuts = append(cuts, rng.IntN(64<<10)+1)
						if rng.IntN(2) == 0 {
							cuts[len(cuts)-1] = rng.IntN(20) + 1
						}
					}
				}
				if got := runFilter(tc.filter(), in, cuts); !bytes.Equal(got, want) {
					t.Fatalf("round %d: passed %d bytes, want %d (of %d, %d answers)", round, len(got), len(want), len(in), dropped)
				}
			}
			// A stream cut inside an answer's header passes what came.
			tail := spdyPing(spdy.KeepAlivePingID)[:10]
			if tc.name == "websocket" {
				tail = wsClientFrame(0xa, []byte(wsKeepAlivePayload), mask())[:10]
			}
			if got := runFilter(tc.filter(), append(append([]byte(nil), want...), tail...), []int{len(want) + 3}); !bytes.Equal(got, append(append([]byte(nil), want...), tail...)) {
				t.Errorf("a cut answer: passed %d bytes, want %d", len(got), len(want)+len(tail))
			}
		})
	}
}

// FuzzEchoFilter: the filter's output does not depend on where the reads
// end, and it never passes more than came.
func FuzzEchoFilter(f *testing.F) {
	f.Add(append(spdyPing(spdy.KeepAlivePingID), spdyFrame(false, 1, []byte("x"))...), uint16(3), true)
	f.Add(wsClientFrame(0xa, []byte(wsKeepAlivePayload), [4]byte{1, 2, 3, 4}), uint16(5), false)
	f.Add(wsClientFrame(0x2, make([]byte, 300), [4]byte{}), uint16(1), false)
	f.Fuzz(func(t *testing.T, in []byte, step uint16, isSPDY bool) {
		mk := newWSEchoFilter
		if isSPDY {
			mk = func() *echoFilter {
				return newSPDYEchoFilter(func(id uint32) bool { return id >= spdy.KeepAlivePingID-8 })
			}
		}
		whole := runFilter(mk(), in, nil)
		var cuts []int
		for range len(in)/int(step%64+1) + 1 {
			cuts = append(cuts, int(step%64+1))
		}
		if got := runFilter(mk(), in, cuts); !bytes.Equal(got, whole) {
			t.Fatalf("read in pieces of %d: %x, whole: %x", step%64+1, got, whole)
		}
		if len(whole) > len(in) {
			t.Fatalf("passed %d bytes of %d", len(whole), len(in))
		}
	})
}
