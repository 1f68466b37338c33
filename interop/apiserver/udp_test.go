package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/interop/internal/harness"
)

var udpForwarding = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> \d+/udp`)

// TestPortholeClientUDP: `porthole port-forward pod :N/udp` through the
// real API server to both porthole nodes, on both wires. The API server's
// SPDY proxy passes the offered names to the node untouched, so plain
// SPDY carries porthole's UDP extension; its WebSocket tunnel keeps only
// names ending in .k8s.io, so toward the node that does not declare
// ExtendWebSocketsToKubelet the client finds the tunnel without UDP and
// falls back to SPDY, while the node that declares it gets the WebSocket
// as sent. Either way Go's resolver, pointed at the local port, gets the
// answer of a DNS server in the pod's network, and a datagram of 65507
// bytes comes back whole.
func TestPortholeClientUDP(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.80")
	dns := streamtest.DNSServer(t, map[string]netip.Addr{"db.interop.test.": addr})
	echo := streamtest.UDPEchoServer(t)
	for _, n := range env.nodes {
		for _, w := range portholeWires {
			t.Run(n.name+"/"+w.Name, func(t *testing.T) {
				c := direct(harness.Kubectl{}, w, n, t.TempDir())
				c.porthole = true
				ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
				defer cancel()
				mark := n.mark()
				cmd := c.command(ctx, c.admin, "port-forward", "--address", "127.0.0.1", "pod/"+n.pod("exec"),
					":"+strconv.Itoa(int(dns))+"/udp", ":"+strconv.Itoa(int(echo))+"/udp")
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var errb bytes.Buffer
				cmd.Stderr = &errb
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
				var locals []string
				sc := bufio.NewScanner(stdout)
				for len(locals) < 2 && sc.Scan() {
					if m := udpForwarding.FindStringSubmatch(sc.Text()); m != nil {
						locals = append(locals, m[1])
					}
				}
				if len(locals) < 2 {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("porthole port-forward bound %v (stderr %q)", locals, errb.String())
				}
				go func() { _, _ = io.Copy(io.Discard, stdout) }()
				r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "udp", "127.0.0.1:"+locals[0])
				}}
				ips, err := r.LookupNetIP(ctx, "ip4", "db.interop.test.")
				if err != nil || !slices.Equal(ips, []netip.Addr{addr}) {
					t.Fatalf("lookup: got %v, %v; want [%v] (stderr %q)", ips, err, addr, errb.String())
				}
				conn, err := net.Dial("udp4", "127.0.0.1:"+locals[1])
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				want := bytes.Repeat([]byte{0x5a}, 65507)
				conn.Write(want)
				_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				buf := make([]byte, 1<<16)
				got, err := conn.Read(buf)
				if err != nil || !bytes.Equal(buf[:got], want) {
					t.Fatalf("65507-byte datagram: got %d bytes, %v (stderr %q)", got, err, errb.String())
				}
				// The sessions the node saw prove the route taken.
				wantSessions := []string{"portforward/spdy"}
				switch {
				case w.WebSocket && n.declared:
					wantSessions = []string{"portforward/websocket"}
				case w.WebSocket:
					// The API server's tunnel (no UDP), then the fallback.
					wantSessions = []string{"portforward/spdy", "portforward/spdy"}
				}
				if got := n.sessionsSince(mark); !slices.Equal(got, wantSessions) {
					t.Errorf("node %s saw sessions %q, want %q", n.name, got, wantSessions)
				}
			})
		}
	}
}
