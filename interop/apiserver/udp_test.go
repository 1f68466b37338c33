package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/porthole/porthole/interop/internal/harness"
)

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
				f := harness.StartForwardPorts(t, cmd, 2)
				if n := strings.Count(f.Stdout.String(), "/udp\n"); n != 2 {
					t.Fatalf("%d of the 2 forwards are UDP: stdout %q", n, f.Stdout.String())
				}
				locals := f.Addrs
				r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "udp", locals[0])
				}}
				ips, err := r.LookupNetIP(ctx, "ip4", "db.interop.test.")
				if err != nil || !slices.Equal(ips, []netip.Addr{addr}) {
					t.Fatalf("lookup: got %v, %v; want [%v] (stderr %q)", ips, err, addr, f.Stderr.Tail())
				}
				conn, err := net.Dial("udp4", locals[1])
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
					t.Fatalf("65507-byte datagram: got %d bytes, %v (stderr %q)", got, err, f.Stderr.Tail())
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

// TestPortForwardFollowsUDP: `porthole port-forward svc/NAME :web/udp`
// follows the Service across pod replacement as a TCP forward does: the
// first pod answers the datagrams, it is deleted, and once the replacement
// runs the same local UDP port gets the replacement's answers, with no
// restart; the forward says once that the old pod is gone. Both wires.
func TestPortForwardFollowsUDP(t *testing.T) {
	n := env.nodes[0]
	ensureServiceAccount(t)
	k := env.kubectls[len(env.kubectls)-1]
	for _, proto := range []string{"websocket", "spdy"} {
		t.Run(proto, func(t *testing.T) {
			c := direct(k, k.Wires()[0], n, t.TempDir())
			c.porthole = true
			ctx := t.Context()
			name := "follow-udp-" + proto
			port := freePort(t)
			labels := map[string]string{"app": name}
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Selector: labels,
				Ports: []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("http")}}}}
			cs := env.cp.Admin
			if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cs.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{}) })
			a, b := name+"-a", name+"-b"
			createUDPWebPod(t, n, a, labels, port)
			pf := startPortForward(t, c, proto, "svc/"+name, ":web/udp")
			conn, err := net.Dial("udp4", pf.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			awaitDatagram(t, pf, conn, a)
			deletePod(t, a, port)
			createUDPWebPod(t, n, b, labels, port)
			awaitDatagram(t, pf, conn, b)
			pf.checkSwitch(t, a, b)
		})
	}
}

// createUDPWebPod runs porthole's demo web server in a pod on n, also
// answering datagrams on its port with the pod's name.
func createUDPWebPod(t *testing.T, n *node, name string, labels map[string]string, port int) {
	t.Helper()
	no := false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: n.name, AutomountServiceAccountToken: &no, Containers: []corev1.Container{{
			Name: "web", Image: "local",
			Command: []string{env.porthole, "demo-web", "--udp", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--say", name},
			Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}}}}
	if _, err := env.cp.Admin.CoreV1().Pods("default").Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		_ = env.cp.Admin.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	if _, err := env.cp.AwaitPodRunning(t.Context(), "default", name); err != nil {
		t.Fatalf("%v\nnode log:\n%s", err, n.logTail(4096))
	}
}

// awaitDatagram sends a datagram through the forward until the answer is
// want (a pod's name): no answer, or another pod's, is allowed only while
// the forward is switching, and only for followTimeout.
func awaitDatagram(t *testing.T, pf portForward, conn net.Conn, want string) {
	t.Helper()
	deadline := time.Now().Add(followTimeout)
	buf := make([]byte, 1024)
	last := ""
	for {
		if _, err := conn.Write([]byte("who?")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf)
		if err == nil && string(buf[:n]) == want+"\n" {
			return
		}
		last = fmt.Sprintf("%q %v", buf[:n], err)
		select {
		case <-pf.Done:
			t.Fatalf("port-forward exited: stderr %q", pf.Stderr.Tail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no datagram from %s within %v (last: %s); stdout %q, stderr %q", want, followTimeout, last, pf.Stdout.Tail(), pf.Stderr.Tail())
		}
	}
}
