package apiserver

import (
	"net"
	"slices"
	"testing"

	"github.com/porthole/porthole/interop/internal/official"
)

// TestOfficialClients runs the official Python and JavaScript clients
// through the real API server to both porthole nodes, as a user of a
// cluster with a porthole node would: exec with 8 MiB of stdin in one write
// (the pod's hash, stderr, exit code 3), attach to cat, a tty resized the
// client's own way, and a port-forward of 2 MiB to an echo server. Each
// case also checks the wire the node saw. The API server passes the
// clients' WebSocket straight to the node, except a v5 exec to a node
// that does not declare ExtendWebSocketsToKubelet, which it translates to
// SPDY; their port-forward is the legacy WebSocket protocol (?ports=),
// which the API server passes through too.
func TestOfficialClients(t *testing.T) {
	_, p, _ := net.SplitHostPort(env.echo.Addr().String())
	echoPort, err := net.LookupPort("tcp", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range env.nodes {
		for _, c := range official.Clients() {
			t.Run(n.name+"/"+c.Name, func(t *testing.T) {
				c.Need(t)
				at := func(base string) official.Target {
					return official.Target{Kubeconfig: env.adminKubeconfig, Namespace: "default", Pod: n.pod(base), Container: "main"}
				}
				streams := "websocket"
				if c.V == "v5.channel.k8s.io" && !n.declared {
					streams = "spdy"
				}
				cases := []struct {
					name string
					run  func(t *testing.T)
					want string
				}{
					{"exec", func(t *testing.T) { c.Exec(t, at("exec"), 8<<20) }, "exec/" + streams},
					{"attach", func(t *testing.T) { c.Attach(t, at("cat")) }, "attach/" + streams},
					{"tty-resize", func(t *testing.T) { c.TTYResize(t, at("exec")) }, "exec/" + streams},
					{"port-forward", func(t *testing.T) { c.PortForward(t, at("exec"), echoPort, 2<<20, nil) }, "portforward/websocket"},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						mark := n.mark()
						tc.run(t)
						if got := n.sessionsSince(mark); !slices.Equal(got, []string{tc.want}) {
							t.Errorf("node %s saw %q, want [%s]", n.name, got, tc.want)
						}
					})
				}
			})
		}
	}
}
