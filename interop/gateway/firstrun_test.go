package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestFirstRunKubeconfig: a gateway given a token file and no certificate
// serves HTTPS from the authority it makes, and the kubeconfig it writes,
// completed with the command its banner prints, is all every kubectl needs
// to exec through it on every wire (kubectl sends tokens only over TLS).
func TestFirstRunKubeconfig(t *testing.T) {
	certDir := t.TempDir()
	g, err := startGateway(env.Porthole, topo.dir, "firstrun", "http://"+env.Server.Addr, "--cert-dir", certDir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.stop(); err != nil {
			t.Error(err)
		}
	}()
	if !strings.HasPrefix(g.URL, "https://127.0.0.1:") {
		t.Fatalf("first-run gateway serves %s, want https", g.URL)
	}
	made, err := os.ReadFile(filepath.Join(certDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range env.Kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			for _, w := range k.Wires() {
				t.Run(w.Name, func(t *testing.T) {
					kc := filepath.Join(t.TempDir(), "kubeconfig")
					if err := os.WriteFile(kc, made, 0o600); err != nil {
						t.Fatal(err)
					}
					c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: kc, gw: g}
					var out, errOut bytes.Buffer
					if code := c.run(t, nil, &out, &errOut, "exec", harness.PodExec, "--", "true"); code == 0 {
						t.Fatalf("exec with the kubeconfig before adding a token: exit 0, want a refusal")
					}
					out.Reset()
					errOut.Reset()
					if code := c.run(t, nil, &out, &errOut, "--kubeconfig", kc, "config", "set-credentials", "porthole-gateway", "--token=alice-token"); code != 0 {
						t.Fatalf("set-credentials: exit %d: %s", code, errOut.String())
					}
					out.Reset()
					errOut.Reset()
					if code := c.run(t, nil, &out, &errOut, "exec", harness.PodExec, "--", "sh", "-c", "echo first run; exit 7"); code != 7 || out.String() != "first run\n" {
						t.Errorf("exec through the first-run gateway: exit %d, stdout %q, stderr %q; want 7, %q", code, out.String(), errOut.String(), "first run\n")
					}
				})
			}
		})
	}
}
