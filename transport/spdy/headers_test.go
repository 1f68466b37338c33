package spdy

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/moby/spdystream/spdy"
)

// synStream frames a raw (already compressed) header block as SYN_STREAM.
func synStream(id uint32, block []byte) []byte {
	n := 10 + len(block)
	b := []byte{0x80, 3, 0, typeSynStream, 0, byte(n >> 16), byte(n >> 8), byte(n),
		byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id), 0, 0, 0, 0, 0, 0}
	return append(b, block...)
}

// headerBlocks returns the compressed header blocks a real encoder makes for
// hs, in order, on one zlib stream.
func headerBlocks(t testing.TB, hs ...http.Header) [][]byte {
	t.Helper()
	var out [][]byte
	var buf bytes.Buffer
	f, err := spdy.NewFramer(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		buf.Reset()
		if err := f.WriteFrame(&spdy.SynStreamFrame{StreamId: spdy.StreamId(2*i + 1), Headers: h}); err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(buf.Bytes()[frameHeaderLen+10:]))
	}
	return out
}

// The decoder passes what real encoders send and stops at each limit, with
// earlier blocks on the same zlib stream (the sync-flush tail carries over).
func TestHeaderDecoderLimits(t *testing.T) {
	atLimit := http.Header{}
	for i := range maxHeaderValues {
		atLimit.Add("x-"+strings.Repeat("n", i), "v")
	}
	tests := []struct {
		name string
		h    http.Header
		err  error
	}{
		{"kubectl port-forward", http.Header{"Streamtype": {"data"}, "Port": {"8080"}, "Requestid": {"0"}}, nil},
		{"empty", http.Header{}, nil},
		{"values at the limit", atLimit, nil},
		{"field at the limit", http.Header{"X": {strings.Repeat("v", maxHeaderField)}}, nil},
		{"field over the limit", http.Header{"X": {strings.Repeat("v", maxHeaderField+1)}}, ErrHeaderLimit},
		{"NUL values over the limit", http.Header{"X": make([]string, maxHeaderValues+1)}, ErrHeaderLimit},
		{"block over the limit", http.Header{"X": {strings.Repeat("v", maxHeaderField)}, "Y": {strings.Repeat("v", maxHeaderField)},
			"Z": {strings.Repeat("v", maxHeaderField)}, "W": {strings.Repeat("v", maxHeaderField)}}, ErrHeaderLimit},
	}
	exec := http.Header{"Streamtype": {"stdout"}}
	for _, tt := range tests {
		var d headerDecoder
		blocks := headerBlocks(t, exec, exec, tt.h)
		for _, b := range blocks[:2] {
			if err := d.check(b); err != nil {
				t.Fatalf("%s: kubectl block: %v", tt.name, err)
			}
		}
		if err := d.check(blocks[2]); !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
			t.Errorf("%s: check = %v, want %v", tt.name, err, tt.err)
		}
	}
}

// After refusing a frame the gate refuses every later read: the zlib
// stream is out of step, and what follows the frame on the wire is lost.
func TestFrameGateStaysFailed(t *testing.T) {
	bomb := headerBlocks(t, http.Header{"X": {strings.Repeat("v", maxHeaderField+1)}})[0]
	ok := headerBlocks(t, http.Header{"Streamtype": {"stdout"}})[0]
	g := &frameGate{r: bytes.NewReader(append(synStream(1, bomb), synStream(3, ok)...))}
	for range 2 {
		if _, err := g.Read(make([]byte, 64)); !errors.Is(err, ErrHeaderLimit) {
			t.Fatalf("Read = %v, want ErrHeaderLimit", err)
		}
	}
}

// FuzzFrameGate feeds two arbitrary header blocks, as SYN_STREAM frames,
// through the gate into spdystream's framer. Whatever the gate passes,
// spdystream must decode within the limits; nothing may panic. Both modes
// run: spdystream decompressing after the gate's check, and the gate
// inflating for a framer that reads blocks raw (rawHeaders); when both
// accept a frame they must decode the same headers.
func FuzzFrameGate(f *testing.F) {
	for _, hs := range [][]http.Header{
		{{"Streamtype": {"error"}}, {"Streamtype": {"stdout"}}},
		{{"Streamtype": {"data"}, "Port": {"80"}, "Requestid": {"1"}}, {"X": {"a", "b", ""}}},
		{{"X": {strings.Repeat("\x00", 200)}}, {}},
	} {
		b := headerBlocks(f, hs...)
		f.Add(b[0], b[1])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		gateBothWays(t, append(synStream(1, a), synStream(3, b)...))
	})
}

// FuzzHeaderBlock is FuzzFrameGate with valid compression: two arbitrary
// uncompressed header blocks, compressed on one zlib stream with the SPDY
// dictionary as a peer would, so the fuzzer reaches the block layout.
func FuzzHeaderBlock(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x0astreamtype\x00\x00\x00\x05error"),
		[]byte("\x00\x00\x00\x01\x00\x00\x00\x01x\x00\x00\x00\x03a\x00b"))
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x01x\x00\x00\x01\x00"+strings.Repeat("\x00", 256)), []byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var buf bytes.Buffer
		zw, err := zlib.NewWriterLevelDict(&buf, zlib.BestCompression, headerDictionary)
		if err != nil {
			t.Fatal(err)
		}
		var wire []byte
		for i, raw := range [][]byte{a, b} {
			buf.Reset()
			_, _ = zw.Write(raw)
			_ = zw.Flush()
			wire = append(wire, synStream(uint32(2*i+1), buf.Bytes())...)
		}
		gateBothWays(t, wire)
	})
}

// gateBothWays reads the SYN_STREAM frames in wire through the gate in
// both modes and compares what spdystream decodes.
func gateBothWays(t *testing.T, wire []byte) {
	t.Helper()
	var decoded [2][]http.Header
	for mode, inflate := range []bool{false, true} {
		g := &frameGate{r: bytes.NewReader(wire), inflate: inflate}
		opts := []spdy.FramerOption{spdy.WithMaxControlFramePayloadSize(maxInflatedFrame)}
		var raw bool
		if inflate {
			opts = append(opts, rawHeaders(&raw))
		}
		fr, err := spdy.NewFramerWithOptions(io.Discard, g, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if raw != inflate {
			t.Fatal("rawHeaders did not apply")
		}
		for range 2 {
			frame, err := fr.ReadFrame()
			if err != nil {
				break // the gate or spdystream refused: the connection ends
			}
			h := frame.(*spdy.SynStreamFrame).Headers
			checkDecoded(t, h)
			decoded[mode] = append(decoded[mode], h)
		}
	}
	for i := range min(len(decoded[0]), len(decoded[1])) {
		if !reflect.DeepEqual(decoded[0][i], decoded[1][i]) {
			t.Fatalf("frame %d: spdystream decoded %q, gate inflated %q", i, decoded[0][i], decoded[1][i])
		}
	}
}

// checkDecoded asserts that headers spdystream decoded after the gate
// passed them are within the limits.
func checkDecoded(t *testing.T, h http.Header) {
	t.Helper()
	values, size := 0, 0
	for name, vs := range h {
		values += len(vs)
		size += len(name)
		for _, v := range vs {
			size += len(v)
			if len(v) > maxHeaderField {
				t.Fatalf("value of %d bytes passed", len(v))
			}
		}
	}
	if values > maxHeaderValues || size > maxHeaderBlock {
		t.Fatalf("%d values, %d bytes passed", values, size)
	}
}

// FuzzFrameGatePings builds a stream of PING, DATA and RST_STREAM frames
// from the input and reads it through a server's gate: what comes out is
// the stream without the client's PING requests (odd IDs), each of which
// onPing saw, in order; answers to the server's own PINGs (even IDs) and
// every other frame pass unchanged.
func FuzzFrameGatePings(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 1, 3, 0, 0, 0, 0, 2, 2})
	f.Add([]byte{0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1, 0, 0x80, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		var stream, want []byte
		var wantIDs []uint32
		for len(in) > 0 {
			kind := in[0] % 3
			in = in[1:]
			var frame []byte
			switch kind {
			case 0: // PING
				var id [4]byte
				in = in[copy(id[:], in):]
				frame = append([]byte{0x80, 0x03, 0x00, typePing, 0, 0, 0, 4}, id[:]...)
				if v := be32(id[:]); v%2 == 1 {
					stream = append(stream, frame...)
					wantIDs = append(wantIDs, v)
					continue
				}
			case 1: // DATA on stream 1 with up to 7 bytes
				n := 0
				if len(in) > 0 {
					n = int(in[0] % 8)
					in = in[1:]
				}
				frame = append([]byte{0, 0, 0, 1, 0, 0, 0, byte(n)}, make([]byte, n)...)
			case 2: // RST_STREAM of stream 1, CANCEL
				frame = []byte{0x80, 0x03, 0x00, typeRstStream, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 5}
			}
			stream = append(stream, frame...)
			want = append(want, frame...)
		}
		var gotIDs []uint32
		g := &frameGate{r: bytes.NewReader(stream), onPing: func(id uint32) bool {
			gotIDs = append(gotIDs, id)
			return id%2 == 1
		}}
		got, err := io.ReadAll(g)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("gate passed % x, want % x", got, want)
		}
		var requests []uint32
		for _, id := range gotIDs {
			if id%2 == 1 {
				requests = append(requests, id)
			}
		}
		if !slices.Equal(requests, wantIDs) {
			t.Fatalf("requests seen %v, want %v", requests, wantIDs)
		}
	})
}
