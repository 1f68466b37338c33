package spdy

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	fr "github.com/moby/spdystream/spdy"
)

// scanned is what one scan of a byte stream saw.
type scanned struct {
	frames  []Frame
	types   map[uint32]string // stream ID -> streamtype header
	payload map[uint32][]byte // DATA payloads by stream
	err     error
}

func scanAll(b []byte, chunk int) scanned {
	got := scanned{types: map[uint32]string{}, payload: map[uint32][]byte{}}
	s := &FrameScanner{
		Frame: func(f *Frame) (bool, error) {
			got.frames = append(got.frames, *f)
			return !f.Control, nil
		},
		Payload: func(f *Frame, p []byte) { got.payload[f.StreamID] = append(got.payload[f.StreamID], p...) },
		Header: func(id uint32, name, value []byte) {
			if strings.EqualFold(string(name), "streamtype") {
				got.types[id] = string(value)
			}
		},
	}
	for len(b) > 0 && got.err == nil {
		k := min(chunk, len(b))
		got.err = s.Feed(b[:k])
		b = b[k:]
	}
	return got
}

// clientGoSession is a client's byte stream as client-go writes it for an
// exec with stdin: a ping, then each stream's SYN_STREAM and some data.
func clientGoSession(t testing.TB) []byte {
	var buf bytes.Buffer
	f, err := fr.NewFramer(&buf, &buf)
	if err != nil {
		t.Fatal(err)
	}
	write := func(frame fr.Frame) {
		if err := f.WriteFrame(frame); err != nil {
			t.Fatal(err)
		}
	}
	write(&fr.PingFrame{Id: 1})
	for i, typ := range []string{"error", "stdin", "stdout", "stderr", "resize"} {
		id := fr.StreamId(2*i + 1)
		write(&fr.SynStreamFrame{StreamId: id, Headers: http.Header{"Streamtype": {typ}, "Requestid": {"0"}}})
		write(&fr.DataFrame{StreamId: id, Data: bytes.Repeat([]byte{byte('a' + i)}, 100*i)})
	}
	write(&fr.DataFrame{StreamId: 3, Flags: fr.DataFlagFin})
	return buf.Bytes()
}

// TestFrameScanner: the scanner reports every frame with its stream (a
// PING with its ID), each stream's type from its SYN_STREAM and the data
// payloads, whatever the chunking of the byte stream.
func TestFrameScanner(t *testing.T) {
	b := clientGoSession(t)
	want := scanAll(b, len(b))
	if want.err != nil {
		t.Fatal(want.err)
	}
	wantTypes := map[uint32]string{1: "error", 3: "stdin", 5: "stdout", 7: "stderr", 9: "resize"}
	for id, typ := range wantTypes {
		if want.types[id] != typ {
			t.Errorf("stream %d: type %q, want %q", id, want.types[id], typ)
		}
	}
	if len(want.types) != len(wantTypes) {
		t.Errorf("types %v", want.types)
	}
	if p := want.payload[5]; len(p) != 200 || strings.Trim(string(p), "c") != "" {
		t.Errorf("stdout payload %q", p)
	}
	if last := want.frames[len(want.frames)-1]; last.Control || last.StreamID != 3 || !last.Fin() || last.Length != 0 {
		t.Errorf("last frame %+v, want stdin's FIN", last)
	}
	if first := want.frames[0]; !first.Control || first.Type != typePing || first.PingID != 1 || first.Length != 0 {
		t.Errorf("first frame %+v, want the ping with ID 1 (its length after the ID: 0)", first)
	}
	for _, chunk := range []int{1, 3, 7, 13, 4096} {
		got := scanAll(b, chunk)
		if got.err != nil || !slices.Equal(got.frames, want.frames) || len(got.types) != len(want.types) ||
			!bytes.Equal(got.payload[7], want.payload[7]) {
			t.Errorf("chunk %d: %+v, want %+v", chunk, got, want)
		}
	}
}

// TestFrameScannerHeaderLimit: decoding header blocks, the scanner holds
// them to a Conn's limits.
func TestFrameScannerHeaderLimit(t *testing.T) {
	var buf bytes.Buffer
	f, _ := fr.NewFramer(&buf, &buf)
	if err := f.WriteFrame(&fr.SynStreamFrame{StreamId: 1, Headers: http.Header{"Big": {strings.Repeat("x", maxHeaderField+1)}}}); err != nil {
		t.Fatal(err)
	}
	if got := scanAll(buf.Bytes(), 100); !errors.Is(got.err, ErrHeaderLimit) {
		t.Fatalf("err %v, want ErrHeaderLimit", got.err)
	}
}

// FuzzFrameScanner: any byte stream is followed without panic and alike in
// any chunking, up to the same first error.
func FuzzFrameScanner(f *testing.F) {
	f.Add(clientGoSession(f), 3)
	f.Add([]byte{0x80, 3, 0, 1, 0, 0, 0, 2, 0, 0}, 1)
	f.Add([]byte{0x80, 3, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1}, 2)
	f.Fuzz(func(t *testing.T, b []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		whole, cut := scanAll(b, len(b)+1), scanAll(b, chunk)
		if (whole.err == nil) != (cut.err == nil) || !slices.Equal(whole.frames, cut.frames) || len(whole.types) != len(cut.types) {
			t.Fatalf("whole %+v, cut %+v", whole, cut)
		}
	})
}
