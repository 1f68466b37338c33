package apiserver

import (
	"bytes"
	"strings"
	"testing"
)

// TestGatewayNodes: kubectl get nodes and describe node through the
// gateway show what they show from the API server: the gateway forwards
// node and lease reads, authorized.
func TestGatewayNodes(t *testing.T) {
	n := env.nodes[0]
	gw := startImpersonatingGateway(t, "nodes", nil)
	k := env.kubectls[len(env.kubectls)-1]
	w := k.Wires()[0]
	through := gw.kc(k, w, n, t.TempDir(), gatewayModes[0])
	straight := direct(k, w, n, t.TempDir())
	args := []string{"get", "nodes", "-o", "name"}
	want := straight.run(t, straight.admin, nil, args...)
	got := through.run(t, through.admin, nil, args...)
	if got.code != 0 || !bytes.Contains(got.stdout, []byte("node/"+n.name+"\n")) || !bytes.Equal(got.stdout, want.stdout) {
		t.Errorf("get nodes through the gateway: exit %d, %q %q; straight %q", got.code, got.stdout, got.stderr, want.stdout)
	}
	got = through.run(t, through.admin, nil, "describe", "node", n.name)
	out := string(got.stdout)
	for _, want := range []string{"Name:               " + n.name + "\n", "  HolderIdentity:  " + n.name + "\n", "InternalIP:"} {
		if got.code != 0 || !strings.Contains(out, want) || strings.Contains(out, "Failed to get lease") {
			t.Errorf("describe node through the gateway: exit %d, no %q (or a lease failure) in\n%s%s", got.code, want, out, got.stderr)
		}
	}
}
