package websocket

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/porthole/porthole/internal/streamtest/wiretest"
)

// wsFrame builds a frame; a non-nil mask masks the payload.
func wsFrame(fin bool, op byte, payload []byte, mask []byte) []byte {
	return wiretest.WSFrame(fin, op, payload, mask)
}

type scanResult struct {
	frames  []Frame
	payload []byte // every payload asked for, unmasked
	err     error
}

func scanWS(b []byte, chunk int) scanResult {
	var r scanResult
	s := &FrameScanner{
		Frame: func(f *Frame) (bool, error) {
			r.frames = append(r.frames, *f)
			return f.Opcode != OpPing, nil
		},
		Payload: func(f *Frame, off int64, p []byte) error {
			r.payload = Unmask(r.payload, f.Mask, off, p)
			return nil
		},
	}
	for len(b) > 0 && r.err == nil {
		k := min(chunk, len(b))
		r.err = s.Feed(b[:k])
		b = b[k:]
	}
	return r
}

// TestFrameScanner: frames of every length encoding, masked or not, with a
// control frame between fragments, are reported alike in any chunking, and
// the payloads asked for come unmasked.
func TestFrameScanner(t *testing.T) {
	mask := []byte{1, 2, 3, 4}
	big := bytes.Repeat([]byte("0123456789"), 7000) // 70,000 bytes: 64-bit length
	var b []byte
	b = append(b, wsFrame(true, OpBinary, []byte("\x01hello"), mask)...)
	b = append(b, wsFrame(false, OpBinary, bytes.Repeat([]byte("m"), 300), nil)...) // 16-bit length
	b = append(b, wsFrame(true, OpPing, []byte("p"), mask)...)
	b = append(b, wsFrame(true, OpContinuation, big, mask)...)
	b = append(b, wsFrame(true, OpClose, nil, nil)...)
	want := scanWS(b, len(b))
	if want.err != nil {
		t.Fatal(want.err)
	}
	if len(want.frames) != 5 || want.frames[1].Length != 300 || want.frames[3].Length != int64(len(big)) ||
		!want.frames[0].Masked || want.frames[1].Masked || want.frames[1].Fin || want.frames[4].Opcode != OpClose {
		t.Fatalf("frames %+v", want.frames)
	}
	wantPayload := append(append([]byte("\x01hello"), bytes.Repeat([]byte("m"), 300)...), big...)
	if !bytes.Equal(want.payload, wantPayload) {
		t.Fatalf("payload: %d bytes, want %d", len(want.payload), len(wantPayload))
	}
	for _, chunk := range []int{1, 2, 3, 7, 1000} {
		got := scanWS(b, chunk)
		if got.err != nil || !slices.Equal(got.frames, want.frames) || !bytes.Equal(got.payload, want.payload) {
			t.Errorf("chunk %d: %d frames, %d payload bytes, err %v", chunk, len(got.frames), len(got.payload), got.err)
		}
	}
	s := &FrameScanner{}
	if !s.Between() {
		t.Error("a new scanner is not between frames")
	}
	_ = s.Feed(b[:3])
	if s.Between() {
		t.Error("between frames in the middle of a header")
	}
	bad := []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}
	if got := scanWS(bad, 1); !errors.Is(got.err, ErrFrameLength) {
		t.Errorf("64-bit length with the top bit: %v, want ErrFrameLength", got.err)
	}
}

// FuzzFrameScanner: any byte stream is followed without panic and alike in
// any chunking, up to the same first error.
func FuzzFrameScanner(f *testing.F) {
	f.Add(wsFrame(true, OpBinary, []byte("\x04{}"), []byte{9, 8, 7, 6}), 1)
	f.Add(append(wsFrame(false, OpText, []byte("1abc"), nil), wsFrame(true, OpContinuation, nil, nil)...), 3)
	f.Add([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 2)
	f.Fuzz(func(t *testing.T, b []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		whole, cut := scanWS(b, len(b)+1), scanWS(b, chunk)
		if (whole.err == nil) != (cut.err == nil) || !slices.Equal(whole.frames, cut.frames) || !bytes.Equal(whole.payload, cut.payload) {
			t.Fatalf("whole %+v, cut %+v", whole, cut)
		}
	})
}
