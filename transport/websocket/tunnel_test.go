package websocket

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ws "github.com/coder/websocket"
)

// Each Write of a tunnel is one binary message, whatever its size (the
// three header length forms), read whole by a real client; once the client
// closed, Write fails with net.ErrClosed.
func TestTunnelWriteMessages(t *testing.T) {
	sizes := []int{1, 8, 125, 126, 32 << 10, 65535, 65536, 300 << 10}
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*3 + n)
		}
		return b
	}
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
	if err := c.Close(ws.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-afterClose; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
}
