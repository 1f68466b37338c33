package node_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// startUDPNode serves pod "p"; without udp its runtime cannot forward UDP.
func startUDPNode(t *testing.T, udp bool, o node.Options) string {
	return streamtest.StartNode(t, testPods()[:1], &streamtest.NodeOptions{Node: o, TCPOnly: !udp}).URL
}

func pfURL(base string) string { return base + "/api/v1/namespaces/default/pods/p/portforward" }

// TestUDPPortForwardNegotiation: the UDP extension is chosen only when
// offered and when the runtime can dial UDP, on plain SPDY and in the
// tunnel; offered alone to a node that cannot, it is refused with the
// negotiation's 403.
func TestUDPPortForwardNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		udp     bool
		offer   []string
		want    string // chosen; "" for a refusal
		refusal string
	}{
		{"udp node, udp offered", true, []string{portforward.UDPName, portforward.Name}, portforward.UDPName, ""},
		{"udp node, kubectl's offer", true, []string{portforward.Name}, portforward.Name, ""},
		{"tcp-only node, udp offered", false, []string{portforward.UDPName, portforward.Name}, portforward.Name, ""},
		{"tcp-only node, udp alone", false, []string{portforward.UDPName}, "", "unable to negotiate protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startUDPNode(t, tc.udp, node.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			t.Run("spdy", func(t *testing.T) {
				conn, resp, err := spdy.Dial(ctx, pfURL(base), &spdy.DialOptions{Protocols: tc.offer})
				if tc.want == "" {
					body := ""
					if resp != nil {
						b, _ := io.ReadAll(resp.Body)
						body = string(b)
					}
					if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.refusal) {
						t.Fatalf("got %v %q, want 403 %q", err, body, tc.refusal)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if conn.Protocol() != tc.want {
					t.Fatalf("chosen %q, want %q", conn.Protocol(), tc.want)
				}
			})
			t.Run("tunnel", func(t *testing.T) {
				tun, resp, err := websocket.DialTunnel(ctx, pfURL(base), &websocket.TunnelDialOptions{Protocols: tc.offer})
				if tc.want == "" {
					// Offered alone, the name routes nowhere: servers send a
					// WebSocket to the tunnel only for a name ending in
					// .k8s.io, which is why the client offers portforward.k8s.io too.
					if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), `"ports" is required`) {
						t.Fatalf("got %v, want 400 ports is required", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer tun.Close()
				if tun.Protocol() != tc.want {
					t.Fatalf("chosen %q, want %q", tun.Protocol(), tc.want)
				}
			})
		})
	}
}

// udpPair opens a datagram pair (protocol: UDP) for port.
func udpPair(ctx context.Context, t *testing.T, conn *spdy.Conn, id int, port uint16, udp bool) (data, errs *spdy.Stream) {
	t.Helper()
	h := http.Header{}
	h.Set(portforward.HeaderStreamType, portforward.StreamError)
	h.Set(portforward.HeaderPort, strconv.Itoa(int(port)))
	h.Set(portforward.HeaderRequestID, strconv.Itoa(id))
	if udp {
		h.Set(portforward.HeaderProtocol, portforward.ProtocolUDP)
	}
	errs, err := conn.Open(ctx, h)
	if err != nil {
		t.Fatalf("open error stream: %v", err)
	}
	errs.CloseWrite()
	h.Set(portforward.HeaderStreamType, portforward.StreamData)
	data, err = conn.Open(ctx, h)
	if err != nil {
		t.Fatalf("open data stream: %v", err)
	}
	return data, errs
}

func dialUDPSession(ctx context.Context, t *testing.T, base string, offer ...string) *spdy.Conn {
	t.Helper()
	conn, _, err := spdy.Dial(ctx, pfURL(base), &spdy.DialOptions{Protocols: offer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestUDPPortForwardFlow: datagrams of every size from 0 to 65507 bytes
// reach a UDP echo server in the pod framed and come back whole, in order;
// the client's half-close ends the flow cleanly (FIN on data, an empty
// error stream).
func TestUDPPortForwardFlow(t *testing.T) {
	base := startUDPNode(t, true, node.Options{})
	echo := streamtest.UDPEchoServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := dialUDPSession(ctx, t, base, portforward.UDPName, portforward.Name)
	data, errs := udpPair(ctx, t, conn, 0, echo, true)
	buf := make([]byte, portforward.MaxDatagram)
	for i, size := range []int{0, 1, 2, 512, 1500, 9000, 40000, portforward.MaxDatagram} {
		want := bytes.Repeat([]byte{byte(i + 1)}, size)
		frame, err := portforward.AppendDatagram(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := data.Write(frame); err != nil {
			t.Fatal(err)
		}
		n, err := portforward.ReadDatagram(data, buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("datagram of %d bytes: got %d bytes, %v", size, n, err)
		}
	}
	data.CloseWrite()
	if _, err := portforward.ReadDatagram(data, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after half-close: got %v, want EOF", err)
	}
	if msg, err := io.ReadAll(errs); len(msg) != 0 || err != nil {
		t.Fatalf("error stream: %q %v, want empty", msg, err)
	}
}

// TestUDPPortForwardFailures: a frame longer than MaxDatagram and a port
// nothing listens on end that flow with the reason on its error stream; a
// UDP pair in a session that did not negotiate UDP is refused.
func TestUDPPortForwardFailures(t *testing.T) {
	base := startUDPNode(t, true, node.Options{})
	echo := streamtest.UDPEchoServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := dialUDPSession(ctx, t, base, portforward.UDPName, portforward.Name)

	t.Run("oversized frame", func(t *testing.T) {
		data, errs := udpPair(ctx, t, conn, 1, echo, true)
		data.Write([]byte{0xff, 0xe4, 'x'})
		msg, _ := io.ReadAll(errs)
		want := "error forwarding port " + strconv.Itoa(int(echo)) + " to pod p, uid "
		if !strings.HasPrefix(string(msg), want) || !strings.Contains(string(msg), "datagram larger than 65507 bytes") {
			t.Fatalf("error stream %q, want %q… datagram larger than 65507 bytes", msg, want)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		closed := closedUDPPort(t)
		data, errs := udpPair(ctx, t, conn, 2, closed, true)
		frame, _ := portforward.AppendDatagram(nil, []byte("anyone?"))
		data.Write(frame)
		msg, _ := io.ReadAll(errs)
		if !strings.Contains(string(msg), "connection refused") {
			t.Fatalf("error stream %q, want connection refused", msg)
		}
	})
	t.Run("udp pair without negotiation", func(t *testing.T) {
		// A TCP echo server on the port: were the header ignored, as the
		// kubelet would, the bytes would come back.
		tcpEcho := streamtest.EchoServer(t)
		plain := dialUDPSession(ctx, t, base, portforward.Name)
		data, errs := udpPair(ctx, t, plain, 0, tcpEcho, true)
		data.Write([]byte("\x00\x01x"))
		got, _ := io.ReadAll(data)
		msg, _ := io.ReadAll(errs)
		if len(got) != 0 || len(msg) != 0 {
			t.Fatalf("got data %q, error %q; want both streams refused", got, msg)
		}
	})
}

// TestUDPPortForwardIdleFlowEnds: a flow with no datagram either way for
// UDPIdleTimeout ends from the node's side with a FIN.
func TestUDPPortForwardIdleFlowEnds(t *testing.T) {
	base := startUDPNode(t, true, node.Options{UDPIdleTimeout: 200 * time.Millisecond})
	echo := streamtest.UDPEchoServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := dialUDPSession(ctx, t, base, portforward.UDPName, portforward.Name)
	data, errs := udpPair(ctx, t, conn, 0, echo, true)
	frame, _ := portforward.AppendDatagram(nil, []byte("ping"))
	data.Write(frame)
	buf := make([]byte, portforward.MaxDatagram)
	if n, err := portforward.ReadDatagram(data, buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("echo: %q %v", buf[:n], err)
	}
	start := time.Now()
	if _, err := portforward.ReadDatagram(data, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("idle flow: got %v, want EOF", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("flow ended after %v, before its idle timeout", d)
	}
	if msg, _ := io.ReadAll(errs); len(msg) != 0 {
		t.Fatalf("error stream %q, want empty", msg)
	}
}

// closedUDPPort is a loopback UDP port nothing listens on (any more).
func closedUDPPort(t *testing.T) uint16 {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}
