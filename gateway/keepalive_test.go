package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
)

// TestKeepAlivePings: a spliced session that sends nothing for a while
// gets the gateway's pings (WebSocket ping, SPDY PING) between the
// upstream's frames; the clients answer them (the gateway keeps the
// answers, see TestKeepAliveAnswersStayAtTheGateway) and the session's
// bytes and status are untouched.
//
// A session the gateway terminates itself (bridged for joining, here) gets
// them too, from the transport: a proxy in between cut a quiet bridged
// session before, and kubectl over SPDY read the cut as success.
func TestKeepAlivePings(t *testing.T) {
	node := startNode(t)
	cmd := []string{"sh", "-c", "sleep 1; echo after-the-quiet"}
	for _, mode := range []string{"spliced", "bridged"} {
		for _, wire := range []string{"websocket", "spdy"} {
			t.Run(mode+"/"+wire, func(t *testing.T) {
				testKeepAlivePings(t, node, cmd, mode == "bridged", wire)
			})
		}
	}
}

func testKeepAlivePings(t *testing.T, node string, cmd []string, bridged bool, wire string) {
	reg := prometheus.NewRegistry()
	base, _ := startGateway(t, node, &gateway.Options{KeepAlive: 50 * time.Millisecond, Registerer: reg, JoinableSessions: bridged})
	flags := []string{"stdout", "stderr"}
	var stdin []byte // none
	if bridged {
		flags, stdin = append(flags, "stdin"), []byte{} // an interactive session: bridged
	}
	u := execURL(base, cmd, flags...)
	var out, st string
	if wire == "websocket" {
		o, _, s := wsExec(t, u, nil, stdin)
		out, st = string(o), s
	} else {
		o, _, s := spdyExec(t, u, nil, stdin)
		out, st = string(o), string(s)
	}
	if out != "after-the-quiet\n" {
		t.Errorf("stdout %q", out)
	}
	if !strings.Contains(st, `"status":"Success"`) {
		t.Errorf("status %q", st)
	}
	if n := metricValue(t, reg, "porthole_gateway_keepalive_pings_total", nil); n < 5 {
		t.Errorf("%v keep-alive pings in a quiet second at 50 ms, want at least 5", n)
	}
	if b := metricValue(t, reg, "porthole_gateway_translations_total", map[string]string{"kind": "bridge"}); (b == 1) != bridged {
		t.Errorf("%v sessions bridged, want bridged %t", b, bridged)
	}
}

// TestKeepAlivePortForward: a port-forward session through the gateway,
// quiet for a second, gets the gateway's pings on both wires (a SPDY
// port-forward got none: a proxy or load balancer in between cut it as
// idle, and kubectl said "lost connection to pod"); the client answers
// them, and the forward still carries a connection's bytes both ways.
//
// The WebSocket tunnel the gateway unwraps toward a SPDY-only upstream
// (the tunnel-to-spdy case) is the gateway's own WebSocket, not the
// upstream's bytes spliced: it pings from the transport.
func TestKeepAlivePortForward(t *testing.T) {
	node := startNode(t)
	echo := streamtest.EchoServer(t)
	for _, tc := range []struct {
		name     string
		wire     client.Wire
		upstream protocol.Wire
	}{
		{"websocket", client.WireWebSocket, ""},
		{"spdy", client.WireSPDY, ""},
		{"tunnel-to-spdy", client.WireWebSocket, protocol.SPDY},
	} {
		wire := tc.wire
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			base, _ := startGateway(t, node, &gateway.Options{KeepAlive: 50 * time.Millisecond, Registerer: reg, UpstreamWire: tc.upstream})
			c, err := client.New(&client.Config{Host: base})
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithTimeout(context.Background(), time.Minute)
			defer stop()
			ports := make(chan []client.ForwardedPort, 1)
			done := make(chan error, 1)
			go func() {
				done <- c.PortForward(ctx, &client.PortForwardOptions{Pod: "p", Wire: wire, Addresses: []string{"127.0.0.1"},
					Ports: []client.ForwardedPort{{Remote: echo}}, Ready: func(p []client.ForwardedPort) { ports <- p }})
			}()
			var p []client.ForwardedPort
			select {
			case p = <-ports:
			case err := <-done:
				t.Fatalf("PortForward: %v", err)
			}
			time.Sleep(time.Second)
			conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(p[0].Local)))
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.Repeat([]byte("keep-alive"), 10000)
			go func() { _, _ = conn.Write(want) }()
			got := make([]byte, len(want))
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, want) {
				t.Errorf("echo through the forward: %v, equal %t", err, bytes.Equal(got, want))
			}
			conn.Close()
			if n := metricValue(t, reg, "porthole_gateway_keepalive_pings_total", nil); n < 5 {
				t.Errorf("%v keep-alive pings in a quiet second at 50 ms, want at least 5", n)
			}
			unwrapped := metricValue(t, reg, "porthole_gateway_translations_total", map[string]string{"kind": "tunnel-to-spdy"})
			if (unwrapped == 1) != (tc.upstream == protocol.SPDY) {
				t.Errorf("%v tunnels unwrapped toward SPDY, want %d", unwrapped, map[bool]int{true: 1}[tc.upstream == protocol.SPDY])
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("PortForward: %v", err)
			}
		})
	}
}
