package gateway_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/websocket"
)

// sessionIdle is the idle timeout of the tests that wait for it: long
// enough for the session to start and echo on a loaded machine (CI79 saw
// a cat take over 300 ms to start and echo, and the session idle out
// first), short enough to wait for.
const sessionIdle = 1500 * time.Millisecond

// TestSplicedSessionEndsWithReason: when the gateway itself ends a
// WebSocket session it passes through (a message over the limit, the idle
// timeout, shutdown), the client gets a close frame saying why, not a bare
// EOF.
func TestSplicedSessionEndsWithReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts gateway.Options
		act  func(t *testing.T, conn *websocket.Conn, g *gateway.Gateway)
		want string
	}{
		{"message too big", gateway.Options{MaxMessageBytes: 1024}, func(t *testing.T, conn *websocket.Conn, _ *gateway.Gateway) {
			conn.Channel(channel.Stdin).Write(make([]byte, 8<<10))
		}, "websocket message of"},
		{"idle", gateway.Options{IdleTimeout: sessionIdle}, func(*testing.T, *websocket.Conn, *gateway.Gateway) {}, "idle timeout"},
		// The client answers the keep-alive; the answers are not activity.
		{"idle with keep-alive", gateway.Options{IdleTimeout: sessionIdle, KeepAlive: 20 * time.Millisecond},
			func(*testing.T, *websocket.Conn, *gateway.Gateway) {}, "idle timeout"},
		{"shutdown", gateway.Options{}, func(t *testing.T, _ *websocket.Conn, g *gateway.Gateway) {
			grace, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			g.Shutdown(grace)
		}, "gateway shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := startNode(t)
			gw, g := startGateway(t, node, &tc.opts)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn := wsCat(t, ctx, gw)
			rest := streamtest.ReadAll(conn.Channel(channel.Stdout)) // keep the read loop going
			tc.act(t, conn, g)
			select {
			case <-conn.Done():
			case <-ctx.Done():
				t.Fatal("session still up")
			}
			<-rest
			if err := conn.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("client saw %v, want a close frame saying %q", err, tc.want)
			}
		})
	}
}

// TestSplicedSPDYSessionGetsStatus: a SPDY session the gateway passes
// through and ends itself (idle timeout, shutdown) gets a Failure status
// on its error stream, which client-go turns into an error, instead of a
// bare close, which client-go reads as success.
func TestSplicedSPDYSessionGetsStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts gateway.Options
		act  func(g *gateway.Gateway)
		want string
	}{
		{"idle", gateway.Options{IdleTimeout: sessionIdle}, func(*gateway.Gateway) {}, "idle timeout"},
		{"idle with keep-alive", gateway.Options{IdleTimeout: sessionIdle, KeepAlive: 20 * time.Millisecond},
			func(*gateway.Gateway) {}, "idle timeout"},
		{"shutdown", gateway.Options{}, func(g *gateway.Gateway) {
			grace, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			g.Shutdown(grace)
		}, "gateway shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := startNode(t)
			gw, g := startGateway(t, node, &tc.opts)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, stdout := spdyCat(t, ctx, gw)
			go io.Copy(io.Discard, stdout)
			tc.act(g)
			var got string
			select {
			case b := <-st:
				got = string(b)
			case <-ctx.Done():
				t.Fatal("session still up")
			}
			if !strings.Contains(got, `"status":"Failure"`) || !strings.Contains(got, tc.want) {
				t.Errorf("status %q, want a Failure saying %q", got, tc.want)
			}
		})
	}
}
