package cp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/interop/criref"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// TestCopyKubeletReference: porthole cp against the kubelet's own streaming
// stack. The reference node's front serves the API server's exec path:
// over WebSocket its v5-to-SPDY translator carries the upload's stdin
// half-close into the CRI library's SPDY session; with --protocol spdy the
// session is proxied raw to the CRI library. Both directions, each wire.
func TestCopyKubeletReference(t *testing.T) {
	s, err := criref.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("criref close: %v", err)
		}
	})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubeconfig.Write(kc, s.URL(), "criref", "default"); err != nil {
		t.Fatal(err)
	}
	for _, wire := range []string{"websocket", "spdy"} {
		t.Run(wire, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "tree")
			makeTree(t, src)
			want := describe(t, src)
			remote := filepath.Join(dir, "in ref")
			r := mustCP(t, kc, "-v", "4", "--protocol", wire, "-c", "main", src, "ref:"+remote)
			if want := `msg="session wire" wire=` + wire; !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not show %s:\n%s", want, r.stderr)
			}
			if got := describe(t, remote); got != want {
				t.Fatalf("in the reference container:\n%s\nwant:\n%s", got, want)
			}
			back := filepath.Join(dir, "back")
			mustCP(t, kc, "--protocol", wire, "--retries", "2", "-c", "main", "ref:"+remote, back)
			if got := describe(t, back); got != want {
				t.Errorf("back:\n%s\nwant:\n%s", got, want)
			}
			r = runCP(t, kc, "--protocol", wire, "-c", "main", "ref:/no/such/path", filepath.Join(dir, "none"))
			if r.code != 2 {
				t.Errorf("missing path: exit %d, want 2 (stderr %q)", r.code, r.stderr)
			}
			if _, err := os.Lstat(filepath.Join(dir, "none")); err == nil {
				t.Errorf("missing path: a local file was created")
			}
		})
	}
}
