package spdy

import (
	"bytes"
	"io"
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
