package websocket

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ws "github.com/coder/websocket"
)

// Each Write of a tunnel is one binary message, whatever its size (the
// three header length forms), read whole by a real client, and so is each
// WriteMessage of two parts (a SPDY DATA frame's header and payload); once
// the client closed, Write fails with net.ErrClosed.
func TestTunnelWriteMessages(t *testing.T) {
	sizes := []int{1, 8, 125, 126, 32 << 10, 65535, 65536, 300 << 10}
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*3 + n)
		}
		return b
	}
	pairs := [][2]int{{8, 32 << 10}, {8, 1}, {0, 200}, {100, 0}, {8, 300 << 10}}
	afterClose := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tun, err := AcceptTunnel(w, r, &TunnelOptions{Protocols: []string{"portforward.k8s.io"}})
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer tun.Close()
		for _, n := range sizes {
			if _, err := tun.Write(payload(n)); err != nil {
				t.Errorf("write %d: %v", n, err)
				return
			}
		}
		for _, pair := range pairs {
			n, err := tun.WriteMessage(payload(pair[0]), payload(pair[1]))
			if err != nil || n != pair[0]+pair[1] {
				t.Errorf("write message %v: %d, %v", pair, n, err)
				return
			}
		}
		var b [1]byte
		_, _ = tun.Read(b[:]) // until the client's close
		_, err = tun.Write([]byte("late"))
		afterClose <- err
	}))
	defer srv.Close()
	c := rawDial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), "SPDY/3.1+portforward.k8s.io")
	for _, n := range sizes {
		typ, got := readMsg(t, c)
		if typ != ws.MessageBinary || !bytes.Equal(got, payload(n)) {
			t.Fatalf("size %d: got a %v message of %d bytes, not the payload", n, typ, len(got))
		}
	}
	for _, pair := range pairs {
		typ, got := readMsg(t, c)
		if want := append(payload(pair[0]), payload(pair[1])...); typ != ws.MessageBinary || !bytes.Equal(got, want) {
			t.Fatalf("message %v: got a %v message of %d bytes, not the two parts", pair, typ, len(got))
		}
	}
	if err := c.Close(ws.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-afterClose; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
}

// A dialled tunnel's WriteMessage sends its two parts as one message when
// they fit in a client message buffer (a 32 KiB SPDY DATA frame and its
// header do), else as Write would; Write's messages are at most
// clientMsgMax. A server reading messages sees exactly that. Its reads go
// through a buffer of tunnelReadBuf bytes.
func TestTunnelClientWriteMessage(t *testing.T) {
	payload := func(n, seed int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + seed)
		}
		return b
	}
	type msg struct {
		typ ws.MessageType
		b   []byte
	}
	got := make(chan msg, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, &ws.AcceptOptions{Subprotocols: []string{"SPDY/3.1+portforward.k8s.io"}})
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		for {
			typ, b, err := c.Read(context.Background())
			if err != nil {
				close(got)
				return
			}
			got <- msg{typ, b}
		}
	}))
	defer srv.Close()
	tun, _, err := DialTunnel(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if r := tun.client.raw.r; r == nil || r.Size() != tunnelReadBuf {
		t.Errorf("the tunnel reads through no %d-byte buffer", tunnelReadBuf)
	}
	head, body := payload(8, 1), payload(32<<10, 2)
	if n, err := tun.WriteMessage(head, body); err != nil || n != len(head)+len(body) {
		t.Fatalf("write message: %d, %v", n, err)
	}
	big := payload(clientMsgMax+100, 3)
	if n, err := tun.WriteMessage(head, big); err != nil || n != len(head)+len(big) {
		t.Fatalf("write large message: %d, %v", n, err)
	}
	want := [][]byte{append(head, body...), head, big[:clientMsgMax], big[clientMsgMax:]}
	for i, w := range want {
		m := <-got
		if m.typ != ws.MessageBinary || !bytes.Equal(m.b, w) {
			t.Fatalf("message %d: a %v message of %d bytes, want %d bytes", i, m.typ, len(m.b), len(w))
		}
	}
	if err := tun.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if m, ok := <-got; ok {
		t.Fatalf("unexpected message of %d bytes", len(m.b))
	}
}
