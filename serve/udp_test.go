package serve

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/streamtest"
)

// TestUDPPortForward: porthole's client forwards UDP to the demo pod
// through `porthole serve` (its gateway in front of its node) on both
// wires: Go's resolver gets a DNS server's answer from the pod's network,
// and datagrams up to 65507 bytes come back whole from an echo server.
func TestUDPPortForward(t *testing.T) {
	s, _ := startServer(t, Options{})
	waitDemo(t, s)
	dns := streamtest.DNSServer(t, map[string]netip.Addr{"demo.porthole.test.": netip.MustParseAddr("203.0.113.9")})
	echo := streamtest.UDPEchoServer(t)
	c, err := client.New(&client.Config{Host: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	for _, wire := range []client.Wire{client.WireWebSocket, client.WireSPDY} {
		t.Run(string(wire), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			fctx, stop := context.WithCancel(ctx)
			ready, done := make(chan []client.ForwardedPort, 1), make(chan error, 1)
			go func() {
				done <- c.PortForward(fctx, &client.PortForwardOptions{Pod: "demo", Wire: wire, Addresses: []string{"127.0.0.1"},
					Ports: []client.ForwardedPort{{Remote: dns, Protocol: client.ProtocolUDP}, {Remote: echo, Protocol: client.ProtocolUDP}},
					Ready: func(p []client.ForwardedPort) { ready <- p }})
			}()
			var ports []client.ForwardedPort
			select {
			case ports = <-ready:
			case err := <-done:
				t.Fatalf("PortForward: %v", err)
			}
			r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "udp", "127.0.0.1:"+strconv.Itoa(int(ports[0].Local)))
			}}
			addrs, err := r.LookupHost(ctx, "demo.porthole.test.")
			if err != nil || !slices.Equal(addrs, []string{"203.0.113.9"}) {
				t.Errorf("lookup: got %v, %v; want [203.0.113.9]", addrs, err)
			}
			conn, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(int(ports[1].Local)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			buf := make([]byte, 1<<16)
			for i, n := range []int{1, 512, 9000, 65507} {
				want := bytes.Repeat([]byte{byte('a' + i)}, n)
				conn.Write(want)
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				got, err := conn.Read(buf)
				if err != nil || !bytes.Equal(buf[:got], want) {
					t.Fatalf("datagram of %d bytes: got %d bytes, %v", n, got, err)
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("PortForward: %v", err)
			}
		})
	}
}
