package client

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/transport/spdy"
)

// udpWires are the wires a UDP forward runs on: the tunnel and plain SPDY.
var udpWires = []Wire{WireWebSocket, WireSPDY}

// startUDPForward forwards ports of pod "p" on a node (behind wrap) on
// wire and returns the run and the bound ports.
func startUDPForward(t *testing.T, base string, wire Wire, idle time.Duration, ports ...ForwardedPort) (*forwardRun, []ForwardedPort) {
	t.Helper()
	c := newTestClient(t, base)
	return startForward(t, c.PortForward, &PortForwardOptions{Pod: "p", Wire: wire, UDPIdleTimeout: idle,
		Addresses: []string{"127.0.0.1"}, Ports: ports})
}

func udpPort(remote uint16) ForwardedPort {
	return ForwardedPort{Remote: remote, Protocol: ProtocolUDP}
}

func localUDP(p ForwardedPort) string { return "127.0.0.1:" + strconv.Itoa(int(p.Local)) }

// TestPortForwardUDPDNS: Go's own DNS resolver, pointed at the forwarded
// port, gets the A record from a DNS server in the pod, and NXDOMAIN for a
// name it does not know.
func TestPortForwardUDPDNS(t *testing.T) {
	base := startPFNode(t, nil)
	dns := streamtest.DNSServer(t, map[string]netip.Addr{"web.porthole.test.": netip.MustParseAddr("10.1.2.3")})
	for _, wire := range udpWires {
		t.Run(string(wire), func(t *testing.T) {
			fr, ports := startUDPForward(t, base, wire, 0, udpPort(dns))
			r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "udp", localUDP(ports[0]))
			}}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			ips, err := r.LookupNetIP(ctx, "ip4", "web.porthole.test.")
			if err != nil || !slices.Equal(ips, []netip.Addr{netip.MustParseAddr("10.1.2.3")}) {
				t.Fatalf("lookup: got %v, %v; want [10.1.2.3]", ips, err)
			}
			_, err = r.LookupNetIP(ctx, "ip4", "nothing.porthole.test.")
			var dnsErr *net.DNSError
			if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
				t.Fatalf("unknown name: got %v, want not found", err)
			}
			fr.out.await(t, fmt.Sprintf("Forwarding from 127.0.0.1:%d -> %d/udp", ports[0].Local, dns), 1)
			fr.out.await(t, fmt.Sprintf("Handling UDP flow for %d from 127.0.0.1:", ports[0].Local), 2)
		})
	}
}

// echoAll sends datagrams of the given sizes from one socket, at most
// window bytes in flight, and checks every reply byte for byte; it returns
// how many got no reply within a second.
func echoAll(t *testing.T, addr string, seed uint64, sizes []int) (lost int) {
	t.Helper()
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1<<16)
	for i, size := range sizes {
		want := payload(seed+uint64(i), size)
		if _, err := conn.Write(want); err != nil {
			t.Fatalf("send %d bytes: %v", size, err)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			lost++
			continue
		}
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("datagram %d: got %d bytes, want the %d sent", i, n, size)
		}
	}
	return lost
}

// datagramSizes runs from 1 byte to the largest datagram.
func datagramSizes() []int {
	sizes := []int{1, 2, 3, 17, 100, 511, 512, 513, 1200, 1472, 1500, 4096, 8192, 9000, 16384, 32768, 50000, 65000, 65506, 65507}
	for i := range 80 {
		sizes = append(sizes, 1+(i*7919)%65507)
	}
	return sizes
}

// TestPortForwardUDPEcho: a hundred datagrams of 1 to 65507 bytes come
// back from an echo server in the pod byte for byte; none is lost on
// loopback at one in flight.
func TestPortForwardUDPEcho(t *testing.T) {
	base := startPFNode(t, nil)
	echoPort := streamtest.UDPEchoServer(t)
	for _, wire := range udpWires {
		t.Run(string(wire), func(t *testing.T) {
			fr, ports := startUDPForward(t, base, wire, 0, udpPort(echoPort))
			sizes := datagramSizes()
			if lost := echoAll(t, localUDP(ports[0]), 1, sizes); lost != 0 {
				t.Fatalf("%d of %d datagrams lost (stderr: %s)", lost, len(sizes), fr.errOut)
			}
			if s := fr.errOut.String(); s != "" {
				t.Errorf("stderr: %q", s)
			}
		})
	}
}

// TestPortForwardUDPPeers: two local peers talking at once each get their
// own replies only, over a flow each.
func TestPortForwardUDPPeers(t *testing.T) {
	base := startPFNode(t, nil)
	port := streamtest.UDPEchoServer(t)
	fr, ports := startUDPForward(t, base, WireSPDY, 0, udpPort(port))
	a, b := dialUDP(t, localUDP(ports[0])), dialUDP(t, localUDP(ports[0]))
	for i := range 50 {
		for _, p := range []struct {
			c   net.Conn
			tag string
		}{{a, "a"}, {b, "b"}} {
			msg := fmt.Sprintf("%s-%d", p.tag, i)
			if _, err := p.c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			if got := readUDP(t, p.c); got != msg {
				t.Fatalf("peer %s: got %q, want %q", p.tag, got, msg)
			}
		}
	}
	fr.out.await(t, "Handling UDP flow", 2)
	if n := fr.out.count("Handling UDP flow"); n != 2 {
		t.Errorf("%d flows, want 2: %s", n, fr.out)
	}
}

func dialUDP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readUDP reads one datagram, failing after testTimeout.
func readUDP(t *testing.T, c net.Conn) string {
	t.Helper()
	buf := make([]byte, 1<<16)
	c.SetReadDeadline(time.Now().Add(testTimeout))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

// TestPortForwardUDPIdleFlowExpires: a flow idle for UDPIdleTimeout ends
// (reported), and the same peer's next datagram goes out on a new flow,
// from a new socket on the node.
func TestPortForwardUDPIdleFlowExpires(t *testing.T) {
	base := startPFNode(t, nil)
	port := streamtest.UDPServerFrom(t)
	fr, ports := startUDPForward(t, base, WireWebSocket, 300*time.Millisecond, udpPort(port))
	c := dialUDP(t, localUDP(ports[0]))
	c.Write([]byte("1"))
	first := readUDP(t, c)
	c.Write([]byte("2"))
	if again := readUDP(t, c); again != first {
		t.Fatalf("same flow answered from %q, then %q", first, again)
	}
	fr.out.await(t, "UDP flow for "+strconv.Itoa(int(ports[0].Local))+" from "+c.LocalAddr().String()+" expired", 1)
	c.Write([]byte("3"))
	if second := readUDP(t, c); second == first {
		t.Fatalf("after expiry the node still sends from %s", first)
	}
	if n := fr.out.count("Handling UDP flow"); n != 2 {
		t.Errorf("%d flows, want 2: %s", n, fr.out)
	}
}

// TestPortForwardUDPUnsupported: a porthole node whose runtime cannot
// forward UDP (as an older porthole) negotiates plain portforward.k8s.io;
// PortForward fails at once with ErrUDPUnsupported on every wire, binds
// nothing, and a TCP-only forward to the same node works.
func TestPortForwardUDPUnsupported(t *testing.T) {
	base := streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, &streamtest.NodeOptions{TCPOnly: true}).URL
	echoPort := streamtest.EchoServer(t)
	c := newTestClient(t, base)
	for _, wire := range []Wire{WireAuto, WireWebSocket, WireSPDY} {
		t.Run(cmp.Or(string(wire), "auto"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			ready := false
			err := c.PortForward(ctx, &PortForwardOptions{Pod: "p", Wire: wire, Addresses: []string{"127.0.0.1"},
				Ports: []ForwardedPort{{Remote: echoPort}, udpPort(53)}, Ready: func([]ForwardedPort) { ready = true }})
			if !errors.Is(err, ErrUDPUnsupported) || ready {
				t.Fatalf("got %v (ready %v), want ErrUDPUnsupported before ready", err, ready)
			}
			want := "the server does not support UDP port-forward (porthole's extension); only TCP ports can be forwarded"
			if err.Error() != want {
				t.Fatalf("message %q, want %q", err, want)
			}
		})
	}
	fr, ports := startUDPForward(t, base, WireAuto, 0, ForwardedPort{Remote: echoPort})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if got, err := roundTrip(ctx, "127.0.0.1:"+strconv.Itoa(int(ports[0].Local)), []byte("tcp still works")); err != nil || string(got) != "tcp still works" {
		t.Fatalf("tcp forward: %q %v (stderr %s)", got, err, fr.errOut)
	}
}

// TestPortForwardTCPAndUDP: one forward carries a TCP and a UDP port at
// once, on both wires.
func TestPortForwardTCPAndUDP(t *testing.T) {
	base := startPFNode(t, nil)
	tcpEcho, udpEcho := streamtest.EchoServer(t), streamtest.UDPEchoServer(t)
	for _, wire := range udpWires {
		t.Run(string(wire), func(t *testing.T) {
			fr, ports := startUDPForward(t, base, wire, 0, ForwardedPort{Remote: tcpEcho}, udpPort(udpEcho))
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			want := payload(7, 200000)
			got, err := roundTrip(ctx, "127.0.0.1:"+strconv.Itoa(int(ports[0].Local)), want)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("tcp: %d bytes, %v", len(got), err)
			}
			if lost := echoAll(t, localUDP(ports[1]), 9, []int{1, 1000, 65507}); lost != 0 {
				t.Fatalf("udp: %d lost (stderr %s)", lost, fr.errOut)
			}
		})
	}
}

// TestPortForwardUDPRemoteRefused: a datagram to a pod port nothing
// listens on ends that flow with the node's error, reported once; the
// forward goes on.
func TestPortForwardUDPRemoteRefused(t *testing.T) {
	base := startPFNode(t, nil)
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	closed := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()
	echoPort := streamtest.UDPEchoServer(t)
	fr, ports := startUDPForward(t, base, WireSPDY, 0, udpPort(closed), udpPort(echoPort))
	c := dialUDP(t, localUDP(ports[0]))
	c.Write([]byte("anyone?"))
	fr.errOut.await(t, fmt.Sprintf("an error occurred forwarding %d -> %d: error forwarding port %d to pod p", ports[0].Local, closed, closed), 1)
	fr.errOut.await(t, "connection refused", 1)
	if lost := echoAll(t, localUDP(ports[1]), 3, []int{10}); lost != 0 {
		t.Fatal("the other port stopped forwarding")
	}
}

// TestPortForwardUDPFrozenServer: a server that accepts a flow's streams
// but never reads them holds the session up (SPDY has no per-stream flow
// control), so the flow's sender blocks; its queue stays bounded, the
// excess is dropped at the local socket and counted, and the count is
// reported when the flow ends with the session. (A frozen peer also holds
// the transport's lingering close, for TCP as for UDP; the test ends the
// session from the server's side to get past it.)
func TestPortForwardUDPFrozenServer(t *testing.T) {
	conns := make(chan *spdy.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{Protocols: []string{portforward.UDPName, portforward.Name}})
		if err == nil {
			conns <- c
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	fr, ports := startForward(t, c.PortForward, &PortForwardOptions{Pod: "p", Wire: WireSPDY,
		Addresses: []string{"127.0.0.1"}, Ports: []ForwardedPort{udpPort(53)}})
	server := <-conns
	defer server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	local := dialUDP(t, localUDP(ports[0]))
	// The first datagram opens the flow; the server takes both streams and
	// reads nothing more.
	local.Write([]byte("open"))
	for range 2 {
		if _, err := server.Accept(ctx); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 60000)
	for range 3000 {
		if _, err := local.Write(big); err != nil {
			t.Fatal(err)
		}
	}
	if err := server.Abort("test over"); err != nil {
		t.Fatal(err)
	}
	fr.errOut.await(t, "dropped ", 1)
	fr.stop(t)
	var n uint64
	if _, err := fmt.Sscanf(fr.errOut.String()[strings.Index(fr.errOut.String(), "dropped "):], "dropped %d datagram(s)", &n); err != nil || n == 0 {
		t.Fatalf("drops: %d, %v; stderr %q", n, err, fr.errOut)
	}
}

// TestUDPFlowQueueBound: with nothing taking datagrams off a flow's queue
// (its streams still opening, or the session stalled), what waits stays
// within udpQueueBytes and udpQueueLen; the rest is dropped and counted.
func TestUDPFlowQueueBound(t *testing.T) {
	for _, tc := range []struct {
		name        string
		size, count int
		kept        int
	}{
		{"large datagrams hit the byte bound", 60000, 100, udpQueueBytes / 60000},
		{"small datagrams hit the length bound", 10, 1000, udpQueueLen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &udpRelay{f: &forwarder{udpIdle: time.Minute}}
			fl := newUDPFlow(r, netip.MustParseAddrPort("127.0.0.1:9"))
			for range tc.count {
				fl.enqueue(make([]byte, tc.size))
			}
			if got := len(fl.queue); got != tc.kept {
				t.Errorf("queued %d datagrams, want %d", got, tc.kept)
			}
			if got := fl.queued.Load(); got != int64(tc.kept*tc.size) || got > udpQueueBytes {
				t.Errorf("queued %d bytes, want %d", got, tc.kept*tc.size)
			}
			if got := fl.dropped.Load(); got != uint64(tc.count-tc.kept) {
				t.Errorf("dropped %d, want %d", got, tc.count-tc.kept)
			}
		})
	}
}

// TestPortForwardUDPRefusalIsPrompt: a server that answers the upgrade
// with plain portforward.k8s.io and then neither speaks nor hangs up does
// not hold the refusal: the session is dropped at once, not closed
// gracefully (which would linger for the server's goodbye).
func TestPortForwardUDPRefusalIsPrompt(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
			"X-Stream-Protocol-Version: " + portforward.Name + "\r\n\r\n")
		buf.Flush()
		<-release // silent, and the socket stays open
	}))
	defer srv.Close()
	defer close(release)
	c := newTestClient(t, srv.URL)
	done := make(chan error, 1)
	go func() {
		done <- c.PortForward(context.Background(), &PortForwardOptions{Pod: "p", Wire: WireSPDY,
			Addresses: []string{"127.0.0.1"}, Ports: []ForwardedPort{udpPort(53)}})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUDPUnsupported) {
			t.Fatalf("got %v, want ErrUDPUnsupported", err)
		}
	case <-time.After(testTimeout / 2):
		t.Fatal("the refusal waited on the server")
	}
}

// TestPortForwardUDPAcrossReconnect: the session dies under a UDP flow;
// once the forward has reconnected, the same peer's next datagram goes out
// on a new flow of the new session (from a new socket on the node) and is
// answered, on both wires. Following a target, a pod that goes away
// withdraws its session the same way.
func TestPortForwardUDPAcrossReconnect(t *testing.T) {
	base := startPFNode(t, nil)
	u, _ := url.Parse(base)
	from := streamtest.UDPServerFrom(t)
	for _, w := range udpWires {
		t.Run(string(w), func(t *testing.T) {
			proxy := newCutProxy(t, u.Host)
			fr, ports := startUDPForward(t, "http://"+proxy.addr, w, 0, udpPort(from))
			c := dialUDP(t, localUDP(ports[0]))
			c.Write([]byte("before"))
			first := readUDP(t, c)
			proxy.cut()
			fr.errOut.await(t, "lost connection to pod, reconnecting...\n", 1)
			proxy.restart(t)
			fr.errOut.await(t, "reconnected\n", 1)
			c.Write([]byte("after"))
			if second := readUDP(t, c); second == first {
				t.Fatalf("after the reconnection the node still answers from %s", first)
			}
			fr.out.await(t, "Handling UDP flow", 2)
			fr.stop(t)
			proxy.cut()
		})
	}
}

// TestPortForwardOffers: what porthole's client offers at the upgrade. A
// TCP-only forward offers exactly what kubectl offers; a forward with a
// UDP port offers the extension first and portforward.k8s.io after it, on
// the tunnel (prefixed, one header line) and on plain SPDY.
func TestPortForwardOffers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wire  Wire
		ports []ForwardedPort
		want  []string
	}{
		{"tcp/spdy", WireSPDY, []ForwardedPort{{Remote: 80}}, []string{"portforward.k8s.io"}},
		{"tcp/websocket", WireWebSocket, []ForwardedPort{{Remote: 80}}, []string{"SPDY/3.1+portforward.k8s.io"}},
		{"udp/spdy", WireSPDY, []ForwardedPort{{Remote: 80}, udpPort(53)},
			[]string{"udp.portforward.porthole.dev", "portforward.k8s.io"}},
		{"udp/websocket", WireWebSocket, []ForwardedPort{udpPort(53)},
			[]string{"SPDY/3.1+udp.portforward.porthole.dev,SPDY/3.1+portforward.k8s.io"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan []string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := r.Header.Values("X-Stream-Protocol-Version")
				if tc.wire == WireWebSocket {
					h = r.Header.Values("Sec-WebSocket-Protocol")
				}
				got <- h
				http.Error(w, "no", http.StatusForbidden)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL)
			err := c.PortForward(context.Background(), &PortForwardOptions{Pod: "p", Wire: tc.wire, Addresses: []string{"127.0.0.1"}, Ports: tc.ports})
			if err == nil {
				t.Fatal("PortForward succeeded against a refusing server")
			}
			if h := <-got; !slices.Equal(h, tc.want) {
				t.Errorf("offered %q, want %q", h, tc.want)
			}
		})
	}
}

// TestPortForwardUDPFlowLimit: a port serves maxUDPFlows peers at once;
// the next peer's datagram is dropped and reported, while the peers with
// flows keep being answered.
func TestPortForwardUDPFlowLimit(t *testing.T) {
	base := startPFNode(t, nil)
	echoPort := streamtest.UDPEchoServer(t)
	fr, ports := startUDPForward(t, base, WireSPDY, 0, udpPort(echoPort))
	addr := localUDP(ports[0])
	peers := make([]net.Conn, maxUDPFlows)
	for i := range peers {
		peers[i] = dialUDP(t, addr)
		msg := "peer " + strconv.Itoa(i)
		peers[i].Write([]byte(msg))
		if got := readUDP(t, peers[i]); got != msg {
			t.Fatalf("peer %d: got %q", i, got)
		}
	}
	extra := dialUDP(t, addr)
	extra.Write([]byte("one too many"))
	fr.errOut.await(t, fmt.Sprintf("dropped 1 datagram(s) for %d -> %d/udp from %s: %d UDP flows are active, the most a port serves",
		ports[0].Local, echoPort, extra.LocalAddr(), maxUDPFlows), 1)
	peers[0].Write([]byte("still here"))
	if got := readUDP(t, peers[0]); got != "still here" {
		t.Fatalf("a peer with a flow: got %q", got)
	}
}
