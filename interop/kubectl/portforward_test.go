package kubectl

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

var forwarding = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)`)

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
	cmd := c.command(ctx, "port-forward", "--address", "127.0.0.1", "pod/"+harness.PodExec, fmt.Sprintf(":%d", remote))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	local := ""
	sc := bufio.NewScanner(stdout)
	for local == "" && sc.Scan() {
		if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
			local = m[1]
		}
	}
	if local == "" {
		t.Fatalf("kubectl port-forward printed no Forwarding line (stderr: %s)", tail(stderr.String()))
	}
	go drain(sc)
	for i := range 2 {
		if err := harness.PushThrough(ctx, "127.0.0.1:"+local, env.Input); err != nil {
			t.Fatalf("connection %d: %v (kubectl stderr: %s)", i, err, tail(stderr.String()))
		}
	}
	c.checkPortForwardWire(t, mark)
}

func drain(sc *bufio.Scanner) {
	for sc.Scan() {
	}
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
