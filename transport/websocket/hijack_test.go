package websocket

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
)

// TestEarlyFrameAfterHandshake: a client that sends its first frames in
// the same write as the upgrade request (net/http has them in its own
// buffer when the handler hijacks) loses none of them, though the
// connection reads through buffers of its own after the hijack.
func TestEarlyFrameAfterHandshake(t *testing.T) {
	v := protocol.WebSocketVersions[0] // v5
	got := make(chan []byte, 1)
	url, accepted, _ := serve(t, &AcceptOptions{Versions: []protocol.Version{v}}, func(c *Conn) {
		s := c.ServerSession(protocol.Want{Stdin: true, Stdout: true})
		got <- readAll(t, s.Stdin)
	})
	addr := strings.TrimPrefix(url, "ws://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Four stdin messages of 300 bytes (more than the reader's own buffer
	// holds at once), then the v5 close signal for stdin, all masked with
	// a zero key, all in the request's write.
	var want, frames bytes.Buffer
	for i := range 4 {
		payload := bytes.Repeat([]byte{byte('a' + i)}, 300)
		want.Write(payload)
		msg := append([]byte{0}, payload...) // channel 0: stdin
		frames.Write([]byte{0x82, 0x80 | 126, byte(len(msg) >> 8), byte(len(msg)), 0, 0, 0, 0})
		frames.Write(msg)
	}
	frames.Write([]byte{0x82, 0x80 | 2, 0, 0, 0, 0, 0xFF, 0})
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + v.Name + "\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), frames.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	if r := <-accepted; r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, want.Bytes()) {
			t.Fatalf("stdin: got %d bytes %.20q..., want %d", len(b), b, want.Len())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stdin never ended")
	}
}
