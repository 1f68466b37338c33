package spdy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/internal/streamtest/wiretest"
)

// tcpPair returns a connected client/server pair on 127.0.0.1 with small
// kernel buffers, so that data can be made to wait in the server's send queue.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	client, server = wiretest.TCPPair(t)
	client.SetReadBuffer(16 << 10)
	server.SetWriteBuffer(256 << 10)
	return client, server
}

// The lingering close keeps the tail: the server's last bytes are still in
// its send queue (the client's window is full) and unread client bytes sit
// in its receive queue. Closing such a socket makes Linux send RST and drop
// the send queue; lingerClose half-closes, reads on, and closes after the
// client did, so the client reads everything.
func TestLingerCloseKeepsTail(t *testing.T) {
	client, server := tcpPair(t)
	tail := bytes.Repeat([]byte("0123456789abcdef"), 12<<10)  // 192 KiB
	server.SetWriteDeadline(time.Now().Add(10 * time.Second)) // guard: must fit in the buffers
	if _, err := server.Write(tail); err != nil {
		t.Fatalf("server write: %v", err)
	}
	if _, err := client.Write([]byte("ping ping ping")); err != nil {
		t.Fatal(err)
	}
	waitReadableConn(t, server) // the client's bytes are in the server's receive queue, unread

	w := newWire(server, nil, 10*time.Second, nil)
	closed := make(chan struct{})
	go func() { defer close(closed); w.lingerClose() }()

	got, err := io.ReadAll(client)
	if err != nil || !bytes.Equal(got, tail) {
		t.Fatalf("client read %d bytes, err %v; want %d bytes", len(got), err, len(tail))
	}
	client.Close()
	<-closed
}

// waitReadableConn waits until c has bytes to read, without reading them.
func waitReadableConn(t *testing.T, c *net.TCPConn) {
	t.Helper()
	if err := pump.NewWaiter(c).Wait(); err != nil {
		t.Fatal(err)
	}
}
