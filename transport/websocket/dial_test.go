package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
)

// TestDialRefused: a non-101 answer is a *stream.UpgradeError with the status and
// up to 64 KiB of body, for the raw empty 403 of a server without the
// offered protocol as for an ordinary error page.
func TestDialRefused(t *testing.T) {
	url, accepted, _ := serve(t, &AcceptOptions{Versions: protocol.WebSocketVersions[1:]}, nil)
	_, _, err := Dial(context.Background(), url, nil) // offers v5 only
	var ue *stream.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusForbidden || len(ue.Body) != 0 {
		t.Fatalf("got %v, want UpgradeError 403 with empty body", err)
	}
	if res := <-accepted; !errors.Is(res.err, ErrNoProtocol) {
		t.Fatalf("Accept: got %v, want ErrNoProtocol", res.err)
	}

	big := bytes.Repeat([]byte("x"), 100<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write(big)
	}))
	defer srv.Close()
	_, _, err = Dial(context.Background(), srv.URL, nil)
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusNotFound || !bytes.Equal(ue.Body, big[:64<<10]) {
		t.Fatalf("got %T %d-byte body, want UpgradeError 404 with 64 KiB", err, len(ue.Body))
	}
}

// TestDialProtocolNotOffered: a 101 naming a protocol the client did not
// offer, or none, is a *stream.UpgradeError naming it, as in client-go.
func TestDialProtocolNotOffered(t *testing.T) {
	for _, answer := range []string{protocol.V4, ""} {
		t.Run("answer "+answer, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Set("Sec-WebSocket-Protocol", answer) // make coder choose it
				c, err := ws.Accept(w, r, &ws.AcceptOptions{Subprotocols: []string{answer}})
				if err == nil {
					c.CloseNow()
				}
			}))
			defer srv.Close()
			_, _, err := Dial(context.Background(), srv.URL, nil)
			var pe *stream.UpgradeError
			if !errors.As(err, &pe) || pe.Chosen != answer {
				t.Fatalf("got %v, want ProtocolError choosing %q", err, answer)
			}
		})
	}
}

// TestDialOffersOneLine: every offered name goes in one header line, in
// order, and the server's choice is the client's first supported one.
func TestDialOffersOneLine(t *testing.T) {
	lines := make(chan []string, 1)
	url, _, _ := serve(t, nil, func(c *Conn) {})
	wrapped := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lines <- r.Header.Values("Sec-WebSocket-Protocol")
		w.WriteHeader(http.StatusTeapot)
	}))
	defer wrapped.Close()
	offer := []protocol.Version{protocol.WebSocketVersions[2], protocol.WebSocketVersions[0]}
	Dial(context.Background(), wrapped.URL, &DialOptions{Versions: offer})
	if got := <-lines; len(got) != 1 || got[0] != "v4.base64.channel.k8s.io,v5.channel.k8s.io" {
		t.Fatalf("got %q, want one line v4.base64.channel.k8s.io,v5.channel.k8s.io", got)
	}
	c, _, err := Dial(context.Background(), url, &DialOptions{Versions: offer, PingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Protocol() != protocol.V4Base64 || !c.Version().Base64 {
		t.Fatalf("got %q, want %q", c.Protocol(), protocol.V4Base64)
	}
}

// TestPings: the client pings every 5 s; our server answers even while the
// session carries no data, so a minute passes without failure. A server
// that never answers fails the client after PongWait.
func TestPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hc, stop := servePipe(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/mute" {
				c, err := ws.Accept(w, r, &ws.AcceptOptions{
					Subprotocols:   []string{protocol.V5},
					OnPingReceived: func(context.Context, []byte) bool { return false },
				})
				if err == nil {
					c.Read(context.Background())
					c.CloseNow()
				}
				return
			}
			c, err := Accept(w, r, nil)
			if err != nil {
				return
			}
			io.Copy(io.Discard, c.Channel(channel.Stdin))
			c.Close()
		})
		defer stop()
		opts := &DialOptions{HTTPClient: hc}

		c, _, err := Dial(context.Background(), "ws://pipe/", opts)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if err := c.Err(); err != nil {
			t.Fatalf("after a minute of pings: %v", err)
		}
		c.Channel(channel.Stdin).CloseWrite()
		<-c.Done()
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		m, _, err := Dial(context.Background(), "ws://pipe/mute", opts)
		if err != nil {
			t.Fatal(err)
		}
		<-m.Done()
		var ce *stream.ConnError
		if err := m.Err(); !errors.As(err, &ce) || ce.Op != "ping" {
			t.Fatalf("mute server: got %v, want a ping ConnError", err)
		}
		m.Close()
	})
}

// frozenMidFrame answers a WebSocket upgrade offering proto, then sends the
// header of a 1000-byte binary message and 10 bytes of it, and stops: a
// peer frozen in the middle of a frame. It holds the socket until the test
// ends.
func frozenMidFrame(t *testing.T, proto string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, nc)
			mu.Unlock()
			req, err := http.ReadRequest(bufio.NewReader(nc))
			if err != nil {
				continue
			}
			h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n", base64.StdEncoding.EncodeToString(h[:]), proto)
			frame := []byte{0x82, 126, 1000 >> 8, 1000 & 0xff}
			nc.Write(append(frame, make([]byte, 10)...))
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + ln.Addr().String()
}

// TestCloseBoundedOnFrozenPeer: the close handshake of a client whose peer
// froze in the middle of a frame ends once the wait given to boundedClose
// (closeHandshakeWait in the package) has passed
// (coder/websocket alone skips the rest of the frame byte by byte, with no
// timeout, and waits forever).
func TestCloseBoundedOnFrozenPeer(t *testing.T) {
	// A wait of its own, not the package's: a server of an earlier test may
	// still be closing with that one.
	const wait = 300 * time.Millisecond
	proto := protocol.WebSocketVersions[0].Name
	url := frozenMidFrame(t, proto)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wc, raw, _, err := handshake(ctx, "dial", url, nil, nil, []string{proto}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, r, err := wc.Reader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { boundedClose(wc, raw, wait); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		raw.Close()
		<-closed
		t.Fatal("Close still waiting for a frozen peer after 20s")
	}
}
