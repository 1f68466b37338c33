package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// TestShutdownEndsSessionsWithStatus: a session that outlives the grace
// period ends with an InternalError status naming the shutdown, and
// Shutdown returns once it has ended; new sessions are refused meanwhile.
func TestShutdownEndsSessionsWithStatus(t *testing.T) {
	node := startNode(t)
	gw, g := startGateway(t, node, &gateway.Options{SPDYOnlyUpstream: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, execURL(gw, []string{"cat"}, "stdin", "stdout"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st := readAll(conn.Channel(channel.Error))
	// The session is live once its output flows; cat then waits for more
	// stdin, so only the shutdown can end it, whatever the grace.
	conn.Channel(channel.Stdin).Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn.Channel(channel.Stdout), buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	out := readAll(conn.Channel(channel.Stdout))
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
	if _, _, err := websocket.Dial(ctx, execURL(gw, []string{"true"}, "stdout"), nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("new session after shutdown: %v, want 503", err)
	}
}

// TestShutdownSPDYClientGetsStatus: a SPDY client translated to a
// WebSocket-only upstream gets a failure status when the gateway shuts
// down mid-session, never a bare close (which client-go reads as success).
func TestShutdownSPDYClientGetsStatus(t *testing.T) {
	node := startNode(t)
	gw, g := startGateway(t, node, &gateway.Options{WebSocketOnlyUpstream: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := spdy.Dial(ctx, execURL(gw, []string{"cat"}, "stdin", "stdout"), &spdy.DialOptions{Protocols: []string{protocol.V4}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	open := func(typ string) stream.Stream {
		s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
		if err != nil {
			t.Fatalf("open %s: %v", typ, err)
		}
		return s
	}
	st := readAll(open("error"))
	stdin, stdout := open("stdin"), open("stdout")
	stdin.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	grace, gcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer gcancel()
	if err := g.Shutdown(grace); err != context.DeadlineExceeded {
		t.Errorf("Shutdown: got %v, want the grace's deadline", err)
	}
	if got := string(<-st); !strings.Contains(got, `"status":"Failure"`) || !strings.Contains(got, "gateway shutting down") {
		t.Errorf("status %q, want a Failure naming the shutdown", got)
	}
}
