package gateway_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
)

// TestUDPPortForwardThroughGateway: porthole's UDP port-forward crosses
// the gateway on every route it has for port-forward (PROTOCOL.md 7):
// SPDY and the tunnel proxied as they are, the tunnel unwrapped to a
// SPDY-only upstream, and SPDY wrapped in the tunnel for a WebSocket-only
// upstream. The extension's name survives each, so a DNS query gets the
// pod's answer and datagrams up to 65507 bytes echo whole; a node that
// cannot forward UDP is refused clearly through every route too.
func TestUDPPortForwardThroughGateway(t *testing.T) {
	nodeURL := startNode(t)
	tcpOnly := streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, &streamtest.NodeOptions{TCPOnly: true}).URL
	dns := streamtest.DNSServer(t, map[string]netip.Addr{"api.porthole.test.": netip.MustParseAddr("198.51.100.4")})
	echo := streamtest.UDPEchoServer(t)
	for _, upstream := range []protocol.Wire{"", protocol.SPDY, protocol.WebSocket} {
		gw, _ := startGateway(t, nodeURL, &gateway.Options{UpstreamWire: upstream})
		old, _ := startGateway(t, tcpOnly, &gateway.Options{UpstreamWire: upstream})
		for _, wire := range []client.Wire{client.WireWebSocket, client.WireSPDY} {
			t.Run("upstream "+cmp.Or(string(upstream), "any")+"/client "+string(wire), func(t *testing.T) {
				c, err := client.New(&client.Config{Host: gw})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				ports := make(chan []client.ForwardedPort, 1)
				fctx, stop := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() {
					done <- c.PortForward(fctx, &client.PortForwardOptions{Pod: "p", Wire: wire, Addresses: []string{"127.0.0.1"},
						Ports: []client.ForwardedPort{{Remote: dns, Protocol: client.ProtocolUDP}, {Remote: echo, Protocol: client.ProtocolUDP}},
						Ready: func(p []client.ForwardedPort) { ports <- p }})
				}()
				var p []client.ForwardedPort
				select {
				case p = <-ports:
				case err := <-done:
					t.Fatalf("PortForward: %v", err)
				}
				r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "udp", "127.0.0.1:"+strconv.Itoa(int(p[0].Local)))
				}}
				ips, err := r.LookupNetIP(ctx, "ip4", "api.porthole.test.")
				if err != nil || !slices.Equal(ips, []netip.Addr{netip.MustParseAddr("198.51.100.4")}) {
					t.Errorf("lookup: got %v, %v", ips, err)
				}
				echoDatagrams(t, "127.0.0.1:"+strconv.Itoa(int(p[1].Local)), []int{1, 1400, 30000, 65507})
				stop()
				if err := <-done; err != nil {
					t.Errorf("PortForward: %v", err)
				}

				oc, err := client.New(&client.Config{Host: old})
				if err != nil {
					t.Fatal(err)
				}
				err = oc.PortForward(ctx, &client.PortForwardOptions{Pod: "p", Wire: wire, Addresses: []string{"127.0.0.1"},
					Ports: []client.ForwardedPort{{Remote: dns, Protocol: client.ProtocolUDP}}})
				if !errors.Is(err, client.ErrUDPUnsupported) {
					t.Errorf("node without UDP: got %v, want %v", err, client.ErrUDPUnsupported)
				}
			})
		}
	}
}

// echoDatagrams sends each size once to a UDP echo at addr and requires
// the same bytes back.
func echoDatagrams(t *testing.T, addr string, sizes []int) {
	t.Helper()
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1<<16)
	for i, n := range sizes {
		want := bytes.Repeat([]byte{byte(i + 1)}, n)
		conn.Write(want)
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := conn.Read(buf)
		if err != nil || !bytes.Equal(buf[:got], want) {
			t.Fatalf("datagram of %d bytes: got %d bytes, %v", n, got, err)
		}
	}
}
