package websocket

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol"
)

// The server writes each message as one frame of its own (header and
// payload gathered in one write): every size, across the header's three
// length forms and a Write split into several messages, reaches a real
// WebSocket client whole, in order, with the channel byte first.
func TestServerRawFramesWhole(t *testing.T) {
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	sizes := []int{0, 1, 124, 125, 126, 4096, 65534, 64<<10 - 1, 200 << 10}
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		return b
	}
	url, _, closed := serve(t, &AcceptOptions{Versions: []protocol.Version{v5}}, func(c *Conn) {
		for _, n := range sizes {
			if _, err := c.Channel(1).Write(payload(n)); err != nil {
				t.Errorf("write %d: %v", n, err)
				return
			}
		}
	})
	c := rawDial(t, url, v5.Name)
	for _, n := range sizes {
		want := payload(n)
		for len(want) > 0 || n == 0 {
			typ, got := readMsg(t, c)
			if typ != ws.MessageBinary || len(got) == 0 || got[0] != 1 {
				t.Fatalf("size %d: message type %v, first byte %v", n, typ, got[:min(1, len(got))])
			}
			k := min(len(want), len(got)-1)
			if len(got)-1 > len(want) || !bytes.Equal(got[1:], want[:k]) {
				t.Fatalf("size %d: message of %d bytes does not match the payload", n, len(got)-1)
			}
			want = want[k:]
			if n == 0 {
				break
			}
		}
	}
	if code := readClose(t, c); code != ws.StatusNormalClosure {
		t.Fatalf("close code %v, want 1000", code)
	}
	if r := <-closed; r.err != nil {
		t.Fatalf("close: %v", r.err)
	}
}

// A close frame written through the connection (coder/websocket echoing
// the peer's close from its reader) seals it: no data frame follows it on
// the wire, and the writer learns net.ErrClosed.
func TestRawFrameAfterCloseSealed(t *testing.T) {
	a, b := net.Pipe()
	var wg sync.WaitGroup
	l := newLingerConn(a, 0, &wg)
	var got bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&got, b)
	}()
	var hb [maxHeaderLen + 1]byte
	if err := l.writeFrame(appendHeader(hb[:0], 0x2, 3), []byte("abc"), nil); err != nil {
		t.Fatalf("data frame: %v", err)
	}
	closeFrame := []byte{0x88, 0x02, 0x03, 0xe8}
	if _, err := l.Write(closeFrame); err != nil {
		t.Fatalf("close frame: %v", err)
	}
	if err := l.writeFrame(appendHeader(hb[:0], 0x2, 3), []byte("def"), nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("data frame after close: %v, want net.ErrClosed", err)
	}
	_ = a.Close()
	<-read
	want := append([]byte{0x82, 3, 'a', 'b', 'c'}, closeFrame...)
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("wire % x, want % x", got.Bytes(), want)
	}
}

func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x82, 0}},
		{125, []byte{0x82, 125}},
		{126, []byte{0x82, 126, 0, 126}},
		{65535, []byte{0x82, 126, 0xff, 0xff}},
		{65536, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		if got := appendHeader(nil, 0x2, tc.n); !bytes.Equal(got, tc.want) {
			t.Errorf("appendHeader(%d) = % x, want % x", tc.n, got, tc.want)
		}
	}
}
