package gateway_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

// TestShutdownEndsSessionsWithStatus: a session that outlives the grace
// period ends with an InternalError status naming the shutdown, and
// Shutdown returns once it has ended; new sessions are refused meanwhile.
func TestShutdownEndsSessionsWithStatus(t *testing.T) {
	node := startNode(t)
	gw, g := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.SPDY})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := wsCat(t, ctx, gw)
	st := streamtest.ReadAll(conn.Channel(channel.Error))
	// The session is live once its output flows; cat then waits for more
	// stdin, so only the shutdown can end it, whatever the grace.
	out := streamtest.ReadAll(conn.Channel(channel.Stdout))
	grace, gcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer gcancel()
	if err := g.Shutdown(grace); err != context.DeadlineExceeded {
		t.Errorf("Shutdown: got %v, want the grace's deadline", err)
	}
	if got := string(<-st); !strings.Contains(got, `"reason":"InternalError"`) || !strings.Contains(got, "gateway shutting down") {
		t.Errorf("status %q", got)
	}
	if got := string(<-out); got != "" {
		t.Errorf("output after the echo: %q", got)
	}
	_, _, err := websocket.Dial(ctx, execURL(gw, []string{"true"}, "stdout"), nil)
	var ue *stream.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != 503 || ue.Message != "the gateway is shutting down" {
		t.Errorf("new session after shutdown: %v, want a 503 saying the gateway is shutting down", err)
	}
}

// TestShutdownSPDYClientGetsStatus: a SPDY client translated to a
// WebSocket-only upstream gets a failure status when the gateway shuts
// down mid-session, never a bare close (which client-go reads as success).
func TestShutdownSPDYClientGetsStatus(t *testing.T) {
	node := startNode(t)
	gw, g := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.WebSocket})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, _ := spdyCat(t, ctx, gw)
	grace, gcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer gcancel()
	if err := g.Shutdown(grace); err != context.DeadlineExceeded {
		t.Errorf("Shutdown: got %v, want the grace's deadline", err)
	}
	if got := string(<-st); !strings.Contains(got, `"status":"Failure"`) || !strings.Contains(got, "gateway shutting down") {
		t.Errorf("status %q, want a Failure naming the shutdown", got)
	}
}

// TestShutdownCutsSessionsSideBySide: a session's last word (the close
// frame) may wait for its client to read it, so Shutdown cuts sessions side
// by side: every client gets its close frame while the others still hold
// theirs open. Cut one by one, the second client would get nothing until
// the first one's linger (here a minute) ran out.
func TestShutdownCutsSessionsSideBySide(t *testing.T) {
	defer gateway.SetCloseLinger(time.Minute)()
	node := startNode(t)
	gw, g := startGateway(t, node, nil)
	const n = 3
	var conns []*rawConn
	for range n {
		c := rawWSExec(t, gw, "cat")
		defer c.Close()
		conns = append(conns, c)
	}
	shut := make(chan error, 1)
	go func() {
		grace, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		shut <- g.Shutdown(grace)
	}()
	got := make(chan error, n)
	for _, c := range conns {
		go func() { got <- c.readUntilClose("gateway shutting down") }()
	}
	for range n {
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a client got no close frame while the others held theirs open: sessions cut one by one")
		}
	}
	for _, c := range conns {
		c.Close()
	}
	select {
	case err := <-shut:
		if err != context.DeadlineExceeded {
			t.Errorf("Shutdown: %v, want the grace's deadline", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown still waiting after every client closed")
	}
}

// rawConn is a WebSocket client connection driven by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

// rawWSExec opens a v5 exec of cmd with stdin through gw by hand, so the
// test controls when the client reads and closes.
func rawWSExec(t *testing.T, gw, cmd string) *rawConn {
	t.Helper()
	u, err := url.Parse(execURL(gw, []string{cmd}, "stdin", "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key), protocol.V5)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return &rawConn{Conn: c, r: r}
}

// readUntilClose reads the server's (unmasked) frames until a close frame
// and checks its reason.
func (c *rawConn) readUntilClose(want string) error {
	r := c.r
	for {
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("no close frame: %w", err)
		}
		size := int64(h[1] & 0x7f)
		switch size {
		case 126, 127:
			ext := make([]byte, map[int64]int{126: 2, 127: 8}[size])
			if _, err := io.ReadFull(r, ext); err != nil {
				return err
			}
			size = 0
			for _, b := range ext {
				size = size<<8 | int64(b)
			}
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(r, payload); err != nil {
			return err
		}
		if h[0]&0x0f == 0x8 {
			if !strings.Contains(string(payload), want) {
				return fmt.Errorf("close frame %q, want %q", payload, want)
			}
			return nil
		}
	}
}

// TestIdleSplicedSessionHoldsNoBuffer: a spliced session waiting for
// either side holds no copy buffer; its bytes still flow both ways.
func TestIdleSplicedSessionHoldsNoBuffer(t *testing.T) {
	node := startNode(t)
	gw, _ := startGateway(t, node, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conns []*websocket.Conn
	for range 3 {
		conns = append(conns, wsCat(t, ctx, gw))
	}
	deadline := time.Now().Add(10 * time.Second)
	for gateway.SpliceBuffersInUse() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d splice buffers lent out while 3 sessions idle", gateway.SpliceBuffersInUse())
		}
		time.Sleep(10 * time.Millisecond)
	}
	gets := gateway.SpliceBufferGets()
	for _, c := range conns {
		c.Channel(channel.Stdin).Write([]byte("pong"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c.Channel(channel.Stdout), buf); err != nil || string(buf) != "pong" {
			t.Fatalf("echo after idling: %q %v", buf, err)
		}
	}
	// The echo's bytes went through borrowed buffers (a copier with a
	// buffer of its own would leave the pool unused and idle "at zero").
	if gateway.SpliceBufferGets() <= gets {
		t.Error("the splice moved bytes without borrowing a buffer from its pool")
	}
}
