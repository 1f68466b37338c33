package kubectl

import (
	"context"
	"fmt"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestPortForward forwards a local port with every kubectl version
// on each port-forward wire and pushes 16 MiB through two connections of
// the same session, byte-exact.
func TestPortForward(t *testing.T) {
	echo := harness.StartEcho(t)
	for _, k := range env.Kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			for _, w := range k.PortForwardWires() {
				t.Run(w.Name, func(t *testing.T) {
					c := &client{k: k, w: w, home: t.TempDir()}
					c.testPortForward(t, echo.Port())
				})
			}
		})
	}
}

func (c *client) testPortForward(t *testing.T, remote int) {
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	mark := env.Server.Proxy.Mark()
	f := harness.StartForward(t, c.command(ctx, "port-forward", "--address", "127.0.0.1", "pod/"+harness.PodExec, fmt.Sprintf(":%d", remote)))
	for i := range 2 {
		if err := harness.PushThrough(ctx, f.Addr, env.Input); err != nil {
			t.Fatalf("connection %d: %v (kubectl stderr: %s)", i, err, f.Stderr.Tail())
		}
	}
	c.checkPortForwardWire(t, mark)
}

// checkPortForwardWire: one upgrade, on the wire under test: the WebSocket
// tunnel answering SPDY/3.1+portforward.k8s.io, or SPDY portforward.k8s.io.
func (c *client) checkPortForwardWire(t *testing.T, mark int) {
	t.Helper()
	ups := env.Server.Proxy.UpgradesSince(mark)
	if len(ups) != 1 {
		t.Errorf("upgrade attempts: got %d, want 1: %v", len(ups), ups)
		return
	}
	u := ups[0]
	proto := "portforward.k8s.io"
	if c.w.WebSocket {
		proto = "SPDY/3.1+portforward.k8s.io"
	}
	if u.WebSocket() != c.w.WebSocket || u.Status != 101 || u.Negotiated != proto {
		t.Errorf("upgrade: got %v, want %s 101 %q", u, c.w.Name, proto)
	}
}
