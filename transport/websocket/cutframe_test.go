package websocket

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
)

// TestCutFrameDeliversNoMaskedBytes: a client frame cut short by a broken
// connection must not reach the channel's reader: coder/websocket returns
// such bytes unmasked only when the frame completes, and a resumed session
// counts every byte it reads as data.
func TestCutFrameDeliversNoMaskedBytes(t *testing.T) {
	got := make(chan []byte, 1)
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	url, _, _ := serve(t, &AcceptOptions{Versions: []protocol.Version{v5}}, func(c *Conn) {
		var all []byte
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Channel(channel.Stdin).Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				break
			}
		}
		got <- all
	})
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + protocol.V5 + "\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	data := bytes.Repeat([]byte("0123456789"), 100) // the frame's payload: channel 0, then data
	data[0] = channel.Stdin
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	frame := []byte{0x82, 0x80 | 126, 0, 0}
	binary.BigEndian.PutUint16(frame[2:], uint16(len(data)))
	frame = append(frame, key[:]...)
	for i, b := range data[:500] { // half the payload, then the connection breaks
		frame = append(frame, b^key[i%4])
	}
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server reads the partial frame first
	nc.(*net.TCPConn).SetLinger(0)
	nc.Close()
	select {
	case b := <-got:
		if !bytes.HasPrefix(data[1:], b) {
			t.Fatalf("the reader got %d bytes that are not the data sent: %q", len(b), b[:min(len(b), 16)])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server's reader never ended")
	}
}
