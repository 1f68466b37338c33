package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// TestVanishedClientEndsSession: a client whose process is killed (its
// kernel closes the socket) ends the session and the exec'd process, on
// every route. Idle: nothing moves either way. Blocked stdin: the client
// flooded stdin to a process that never reads it, so its FIN is stuck
// behind unsent data.
func TestVanishedClientEndsSession(t *testing.T) {
	node := startNode(t)
	direct, _ := startGateway(t, node, nil)
	translating, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.SPDY})
	wsOnly, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.WebSocket})
	i := 0
	for _, tc := range []struct {
		name, base string
		ws         bool
	}{
		{"websocket-passthrough", direct, true},
		{"websocket-translated", translating, true},
		{"websocket-to-websocket-only", wsOnly, true},
		{"spdy-passthrough", direct, false},
		{"spdy-to-spdy-only", translating, false},
		{"spdy-translated-to-websocket", wsOnly, false},
	} {
		for _, flood := range []bool{false, true} {
			i++
			marker := fmt.Sprintf("4343.%02d", i)
			name := tc.name + "/idle"
			if flood {
				name = tc.name + "/blocked-stdin"
			}
			t.Run(name, func(t *testing.T) {
				c := dialExec(t, tc.base, tc.ws, []string{"sleep", marker})
				streamtest.WaitProc(t, marker, true)
				if flood {
					streamtest.FloodUntilBlocked(t, c.stdin)
				}
				c.kill()
				streamtest.WaitProc(t, marker, false)
			})
		}
	}
}

// TestVanishedUpstreamEndsSession: the gateway's connection to its upstream
// is cut under a live session (a node that crashed, a dropped network). On
// every route the client's session ends within a bounded time, and so does
// the exec'd process; where the gateway translates, the client reads a
// failure status (a SPDY client reads a bare end as success), while a
// pass-through has no status to give and its connection just ends.
func TestVanishedUpstreamEndsSession(t *testing.T) {
	node := startNode(t)
	var ups upstreams
	direct, _ := startGateway(t, node, &gateway.Options{DialContext: ups.dial})
	translating, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.SPDY, DialContext: ups.dial})
	wsOnly, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.WebSocket, DialContext: ups.dial})
	for i, tc := range []struct {
		name, base string
		ws         bool
		translated bool
	}{
		{"websocket-passthrough", direct, true, false},
		{"websocket-translated", translating, true, true},
		{"websocket-to-websocket-only", wsOnly, true, false},
		{"spdy-passthrough", direct, false, false},
		{"spdy-to-spdy-only", translating, false, false},
		{"spdy-translated-to-websocket", wsOnly, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := fmt.Sprintf("4344.%02d", i)
			c := dialExec(t, tc.base, tc.ws, []string{"sleep", marker})
			streamtest.WaitProc(t, marker, true)
			ups.cut()
			select {
			case <-c.conn.Done():
			case <-time.After(20 * time.Second):
				t.Fatal("the client's session outlived its upstream by 20 s")
			}
			var st []byte
			select {
			case st = <-c.status:
			case <-time.After(10 * time.Second):
				t.Fatal("the error stream did not end with the connection")
			}
			if tc.translated && !bytes.Contains(st, []byte(`"status":"Failure"`)) {
				t.Errorf("status %q: want a Failure status", st)
			}
			if bytes.Contains(st, []byte(`"status":"Success"`)) {
				t.Errorf("status %q: a cut session reported success", st)
			}
			streamtest.WaitProc(t, marker, false)
		})
	}
}

// upstreams dials the gateway's upstream connections and can cut them all.
type upstreams struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (u *upstreams) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		u.mu.Lock()
		u.conns = append(u.conns, nc)
		u.mu.Unlock()
	}
	return nc, err
}

// cut closes every upstream connection dialled so far.
func (u *upstreams) cut() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, nc := range u.conns {
		_ = nc.Close()
	}
	u.conns = nil
}

// execClient is an exec with stdin, stdout and stderr whose outputs are
// drained, over a socket the test can close under it.
type execClient struct {
	conn   stream.Conn
	stdin  stream.Stream
	status <-chan []byte // the error stream's content, once it ends
	mu     sync.Mutex
	raw    net.Conn
	wg     sync.WaitGroup
}

func (c *execClient) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	c.mu.Lock()
	c.raw = nc
	c.mu.Unlock()
	return nc, err
}

// kill closes the client's socket, as the kernel does for a killed client.
func (c *execClient) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raw.Close()
}

func dialExec(t *testing.T, base string, ws bool, cmd []string) *execClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	u := execURL(base, cmd, "stdin", "stdout", "stderr")
	c := &execClient{}
	var outs []stream.Stream
	if ws {
		hc := &http.Client{Transport: &http.Transport{DialContext: c.dial}}
		conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, PingInterval: -1})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.conn, c.stdin = conn, conn.Channel(channel.Stdin)
		c.status = streamtest.ReadAll(conn.Channel(channel.Error))
		outs = []stream.Stream{conn.Channel(channel.Stdout), conn.Channel(channel.Stderr)}
	} else {
		conn, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: protocol.SPDYClientOffer, PingPeriod: -1, DialContext: c.dial})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.conn = conn
		for _, typ := range []string{"error", "stdin", "stdout", "stderr"} {
			s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
			if err != nil {
				t.Fatalf("open %s: %v", typ, err)
			}
			switch typ {
			case "stdin":
				c.stdin = s
			case "error":
				c.status = streamtest.ReadAll(s)
			default:
				outs = append(outs, s)
			}
		}
	}
	t.Cleanup(func() { c.conn.Abort("test over"); c.wg.Wait() })
	for _, s := range outs {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			<-streamtest.ReadAll(s)
		}()
	}
	return c
}

// TestTunnelledSPDYClientFINEndsSession: a SPDY port-forward client of a
// gateway that tunnels it to a WebSocket-only upstream half-closes its
// connection (its FIN, as a killed kubectl's kernel sends): the tunnel to
// the upstream is closed and the session ends, instead of both sides being
// held for the splice's end grace (a minute).
func TestTunnelledSPDYClientFINEndsSession(t *testing.T) {
	node := startNode(t)
	base, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.WebSocket})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &execClient{}
	conn, _, err := spdy.Dial(ctx, base+"/api/v1/namespaces/default/pods/p/portforward",
		&spdy.DialOptions{Protocols: []string{portforward.Name}, PingPeriod: -1, DialContext: c.dial})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Abort("test over")
	c.mu.Lock()
	raw := c.raw.(*net.TCPConn)
	c.mu.Unlock()
	if err := raw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the session outlived its client's FIN by 20 s (the splice's end grace is a minute)")
	}
}
