package portforward

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// refusalTimeout bounds how long a refused UDP forward may take to fail:
// a refusal is one or two upgrades, never a wait.
const refusalTimeout = 15 * time.Second

// dnsName and dnsAddr are the record the pod's DNS server answers.
const dnsName = "svc.porthole.test."

var dnsAddr = netip.MustParseAddr("192.0.2.53")

// TestUDPPortForward: porthole's UDP port-forward end to end. Against
// `porthole serve`, the library on both wires and the `porthole
// port-forward` command resolve a name with Go's resolver through the
// forwarded port of a DNS server in the pod's network, and 200 datagrams of
// 1 to 65507 bytes echo byte for byte with none lost. Against the reference
// node (the kubelet's streaming library behind the kubelet's front, which
// negotiates only portforward.k8s.io) the library on every wire and the
// command fail at once with the extension's error: nothing hangs and the
// command exits non-zero.
func TestUDPPortForward(t *testing.T) {
	dns := streamtest.DNSServer(t, map[string]netip.Addr{dnsName: dnsAddr})
	echo := streamtest.UDPEchoServer(t)
	if os.Getenv(harness.TargetEnv) == "reference" {
		// The server under test is the reference node itself.
		t.Run("serve-is-reference", func(t *testing.T) {
			testUDPRefused(t, serveHost(t), harness.PodExec, dns)
		})
	} else {
		for _, w := range []client.Wire{client.WireWebSocket, client.WireSPDY} {
			t.Run("porthole/serve/"+string(w), func(t *testing.T) {
				s := udpLibraryForward(t, serveHost(t), harness.PodExec, w, dns, echo)
				checkDNS(t, s.locals[0])
				checkEcho(t, s)
				s.stop(t)
			})
		}
		t.Run("porthole-cli/serve", func(t *testing.T) {
			cmd := exec.Command(porthole(t), "port-forward", "--kubeconfig", env.Server.Kubeconfig, "--address", "127.0.0.1",
				"pod/"+harness.PodExec, ":"+strconv.Itoa(int(dns))+"/udp", ":"+strconv.Itoa(int(echo))+"/udp")
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			s := startProcess(t, cmd, []int{int(dns), int(echo)})
			checkDNS(t, s.locals[0])
			checkEcho(t, s)
			s.stop(t)
		})
	}
	t.Run("reference-node", func(t *testing.T) {
		testUDPRefused(t, crirefHost(t), "pf", dns)
	})
}

// udpLibraryForward forwards the UDP ports dns and echo of pod with
// porthole's library.
func udpLibraryForward(t *testing.T, host, pod string, w client.Wire, dns, echo uint16) *session {
	t.Helper()
	c, err := client.New(&client.Config{Host: host})
	must(t, err)
	return inProcess(t, func(ctx context.Context, ready func([]string), stderr io.Writer) error {
		return c.PortForward(ctx, &client.PortForwardOptions{
			Namespace: harness.Namespace, Pod: pod, Wire: w, Addresses: []string{"127.0.0.1"},
			Ports:  []client.ForwardedPort{{Remote: dns, Protocol: client.ProtocolUDP}, {Remote: echo, Protocol: client.ProtocolUDP}},
			Events: client.PrintEvents(nil, stderr),
			Ready: func(got []client.ForwardedPort) {
				var locals []string
				for _, p := range got {
					locals = append(locals, tcpAddr(int(p.Local)))
				}
				ready(locals)
			},
		})
	})
}

// checkDNS resolves dnsName with Go's resolver through the forward at addr.
func checkDNS(t *testing.T, addr string) {
	t.Helper()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip4", dnsName)
	if err != nil || !slices.Equal(ips, []netip.Addr{dnsAddr}) {
		t.Fatalf("lookup %s: got %v, %v; want [%v]", dnsName, ips, err, dnsAddr)
	}
}

// checkEcho sends 200 datagrams of 1 to 65507 bytes, one at a time, to the
// echo forward (s.locals[1]) and requires each back byte for byte; a
// datagram with no answer within a second is lost, and none may be.
func checkEcho(t *testing.T, s *session) {
	t.Helper()
	conn, err := net.Dial("udp4", s.locals[1])
	must(t, err)
	defer conn.Close()
	sizes := []int{1, 2, 512, 1472, 1500, 9000, 65506, 65507}
	for i := len(sizes); i < 200; i++ {
		sizes = append(sizes, 1+(i*7919)%65507)
	}
	buf := make([]byte, 1<<16)
	lost := 0
	for i, n := range sizes {
		want := bytes.Repeat([]byte{byte(i)}, n)
		want[0] = byte(i >> 8)
		if _, err := conn.Write(want); err != nil {
			t.Fatalf("send %d bytes: %v", n, err)
		}
		must(t, conn.SetReadDeadline(time.Now().Add(time.Second)))
		got, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			lost++
			continue
		}
		if err != nil || !bytes.Equal(buf[:got], want) {
			t.Fatalf("datagram %d (%d bytes): got %d bytes, %v", i, n, got, err)
		}
	}
	if lost != 0 {
		t.Fatalf("%d of %d datagrams lost; stderr: %s", lost, len(sizes), s.stderr.tail())
	}
}

// testUDPRefused: a server that speaks only portforward.k8s.io refuses
// the UDP forward on every wire of the library and through the command,
// promptly and in so many words.
func testUDPRefused(t *testing.T, host, pod string, dns uint16) {
	c, err := client.New(&client.Config{Host: host})
	must(t, err)
	for _, w := range []client.Wire{client.WireAuto, client.WireWebSocket, client.WireSPDY} {
		ctx, cancel := context.WithTimeout(context.Background(), refusalTimeout)
		err := c.PortForward(ctx, &client.PortForwardOptions{Namespace: harness.Namespace, Pod: pod, Wire: w,
			Addresses: []string{"127.0.0.1"}, Ports: []client.ForwardedPort{{Remote: dns, Protocol: client.ProtocolUDP}}})
		cancel()
		if !errors.Is(err, client.ErrUDPUnsupported) {
			t.Errorf("wire %q: got %v, want %v", w, err, client.ErrUDPUnsupported)
		}
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, kubeconfig.Write(kc, host, "reference", harness.Namespace))
	ctx, cancel := context.WithTimeout(context.Background(), refusalTimeout)
	defer cancel()
	// --follow=false: the reference node serves the streaming paths only,
	// not the pods API that following reads.
	cmd := exec.CommandContext(ctx, porthole(t), "port-forward", "--kubeconfig", kc, "--address", "127.0.0.1", "--follow=false",
		"pod/"+pod, "8080:80", ":"+strconv.Itoa(int(dns))+"/udp")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("porthole port-forward: %v (context %v), want a non-zero exit within %v; output: %s", err, ctx.Err(), refusalTimeout, out)
	}
	if !strings.Contains(string(out), client.ErrUDPUnsupported.Error()) || strings.Contains(string(out), "Forwarding from") {
		t.Fatalf("output %q, want the refusal and nothing bound", out)
	}
}
