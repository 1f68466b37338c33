package spdy

import (
	"bufio"
	"bytes"
	"net/http"
	"slices"
	"testing"

	mobyspdy "github.com/moby/spdystream/spdy"

	"github.com/porthole/porthole/internal/streamtest/wiretest"
)

// frameBytes serialises frames with spdystream's own framer.
func frameBytes(t testing.TB, frames ...mobyspdy.Frame) []byte {
	return wiretest.SPDYFrames(t, frames...)
}

func observeAll(b []byte, chunk int) []frameEvent {
	var got []frameEvent
	w := newWire(nil, bufio.NewReader(bytes.NewReader(nil)), 0, func(ev frameEvent) { got = append(got, ev) })
	for len(b) > 0 {
		k := min(chunk, len(b))
		w.observe(b[:k])
		b = b[k:]
	}
	return got
}

var observeFrames = []mobyspdy.Frame{
	&mobyspdy.SynStreamFrame{StreamId: 1, Headers: http.Header{"streamtype": {"error"}}},
	&mobyspdy.SynReplyFrame{StreamId: 1, Headers: http.Header{}},
	&mobyspdy.DataFrame{StreamId: 3, Data: []byte("abc")},
	&mobyspdy.DataFrame{StreamId: 3, Flags: mobyspdy.DataFlagFin},
	&mobyspdy.RstStreamFrame{StreamId: 5, Status: mobyspdy.Cancel},
	&mobyspdy.PingFrame{Id: 7},
	&mobyspdy.HeadersFrame{StreamId: 9, CFHeader: mobyspdy.ControlFrameHeader{Flags: mobyspdy.ControlFlagFin}, Headers: http.Header{"a": {"b"}}},
	&mobyspdy.GoAwayFrame{LastGoodStreamId: 7},
}

func TestObserveFrames(t *testing.T) {
	want := []frameEvent{
		{control: true, typ: typeSynStream, id: 1},
		{control: true, typ: typeSynReply, id: 1},
		{id: 3},
		{id: 3, flags: flagFin},
		{control: true, typ: typeRstStream, id: 5},
		{control: true, typ: 6},
		{control: true, typ: typeHeaders, id: 9, flags: flagFin},
		{control: true, typ: typeGoAway},
	}
	b := frameBytes(t, observeFrames...)
	for _, chunk := range []int{1, 3, 8, 13, len(b)} {
		if got := observeAll(b, chunk); !slices.Equal(got, want) {
			t.Errorf("chunk %d: got %+v, want %+v", chunk, got, want)
		}
	}
}

// FuzzObserve: the frame-boundary watcher never panics and sees the same
// frames however the byte stream is cut into reads.
func FuzzObserve(f *testing.F) {
	f.Add(frameBytes(f, observeFrames...), uint8(1))
	f.Add(frameBytes(f, observeFrames[2], observeFrames[4]), uint8(5))
	f.Add([]byte{0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		whole := observeAll(b, len(b)+1)
		cut := observeAll(b, int(chunk)+1)
		if !slices.Equal(whole, cut) {
			t.Fatalf("events differ: whole %+v, cut %+v", whole, cut)
		}
	})
}
