package spdy

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/porthole/porthole/protocol/portforward"
)

// TestNewClientOverPipe runs NewClient against NewServer over a plain byte
// pipe: a port-forward-shaped stream pair carries data both ways with
// half-close, and both ends close cleanly.
func TestNewClientOverPipe(t *testing.T) {
	a, b := tcpPair(t)
	client, err := NewClient(a, portforward.Name, &DialOptions{PingPeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewServer(b, portforward.Name, nil)
	if err != nil {
		client.Abort("test")
		t.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	if client.Protocol() != portforward.Name {
		t.Errorf("protocol: got %q, want %q", client.Protocol(), portforward.Name)
	}
	opened, accepted := openPair(t, client, server, "data", "port", "80", "requestid", "0")
	if got := accepted.Headers().Get("requestid"); got != "0" {
		t.Errorf("requestid header: got %q, want 0", got)
	}
	if accepted.ID()%2 != 1 {
		t.Errorf("client stream ID %d is not odd", accepted.ID())
	}
	want := bytes.Repeat([]byte("tunnel"), 20000)
	go func() {
		_, _ = opened.Write(want)
		_ = opened.CloseWrite()
	}()
	got, err := io.ReadAll(accepted)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("server read %d bytes, err %v; want %d bytes", len(got), err, len(want))
	}
	// The client half-closed; the server's answer still arrives.
	if _, err := accepted.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	_ = accepted.CloseWrite()
	back, err := io.ReadAll(opened)
	if err != nil || string(back) != "answer" {
		t.Fatalf("client read %q, err %v; want \"answer\"", back, err)
	}
}

// TestNewClientNeedsProtocol: no protocol, no connection, and nc is closed.
func TestNewClientNeedsProtocol(t *testing.T) {
	a, b := tcpPair(t)
	defer b.Close()
	if _, err := NewClient(a, "", nil); err == nil {
		t.Fatal("NewClient with no protocol: got nil error")
	}
	if _, err := b.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("peer read after NewClient failed: got %v, want EOF", err)
	}
}

// messageConn is a connection with WriteMessage, as a WebSocket tunnel has,
// that records how each piece of the byte stream was written.
type messageConn struct {
	net.Conn
	mu       sync.Mutex
	messages [][2]int // lengths of WriteMessage's two parts
	writes   [][]byte // copies of Write's arguments
}

func (c *messageConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *messageConn) WriteMessage(a, b []byte) (int, error) {
	c.mu.Lock()
	c.messages = append(c.messages, [2]int{len(a), len(b)})
	c.mu.Unlock()
	return c.Conn.Write(append(bytes.Clone(a), b...))
}

// TestDataFramesWholeInMessages: over a connection that carries messages
// (a port-forward tunnel), a DATA frame's header and payload go out in one
// WriteMessage, so that the tunnel sends one message per frame, not an
// 8-byte message and then the payload.
func TestDataFramesWholeInMessages(t *testing.T) {
	a, b := tcpPair(t)
	mc := &messageConn{Conn: a}
	client, err := NewClient(mc, portforward.Name, &DialOptions{PingPeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewServer(b, portforward.Name, nil)
	if err != nil {
		client.Abort("test")
		t.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	opened, accepted := openPair(t, client, server, "data", "port", "80", "requestid", "0")
	want := randomBytes(t, 100<<10)
	go func() {
		_, _ = opened.Write(want)
		_ = opened.CloseWrite()
	}()
	got, err := io.ReadAll(accepted)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("server read %d bytes, err %v; want %d bytes", len(got), err, len(want))
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	whole := 0
	for _, m := range mc.messages {
		if m == [2]int{frameHeaderLen, defaultFrameSize} {
			whole++
		}
	}
	if whole != len(want)/defaultFrameSize {
		t.Errorf("%d DATA frames of %d bytes went out whole in one message (%v), want %d", whole, defaultFrameSize, mc.messages, len(want)/defaultFrameSize)
	}
	for _, w := range mc.writes {
		if len(w) == frameHeaderLen && w[0]&0x80 == 0 && w[5]|w[6]|w[7] != 0 {
			t.Errorf("a DATA frame header went out without its payload: %x", w)
		}
	}
}
