package serve

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube/kubeconfig"
)

func TestKubeconfigTarget(t *testing.T) {
	const me, other = "http://127.0.0.1:7001", "http://127.0.0.1:7002"
	for _, tc := range []struct {
		name     string
		existing func(path string) // nil: no file
		alive    bool
		wantPath string // relative to want
		wantNote string
	}{
		{"none", nil, false, "", ""},
		{"ours, same server", func(p string) { kubeconfig.Write(p, me, defaultContext, "default") }, true, "", ""},
		{"ours, this address over plain HTTP before", func(p string) { kubeconfig.Write(p, "https://127.0.0.1:7001", defaultContext, "default") }, true, "", ""},
		{"ours, other server running", func(p string) { kubeconfig.Write(p, other, defaultContext, "default") }, true, "-7001", "still uses it"},
		{"ours, other server gone", func(p string) { kubeconfig.Write(p, other, defaultContext, "default") }, false, "", "no longer answers"},
		{"someone else's", func(p string) { kubeconfig.Write(p, other, "kind-dev", "default") }, false, "-7001", "did not write it"},
		{"not a kubeconfig", func(p string) { os.WriteFile(p, []byte("{{{"), 0o600) }, false, "-7001", "did not write it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := filepath.Join(t.TempDir(), "kubeconfig")
			if tc.existing != nil {
				tc.existing(want)
			}
			path, note := kubeconfigTarget(want, me, func(string) bool { return tc.alive })
			if path != want+tc.wantPath || (tc.wantNote == "") != (note == "") || !strings.Contains(note, tc.wantNote) {
				t.Errorf("got %q, %q; want %q, a note with %q", path, note, want+tc.wantPath, tc.wantNote)
			}
		})
	}
}

// TestSecondServeKeepsTheFirstsKubeconfig: a second serve given the same
// kubeconfig path while the first runs writes its own beside it and says
// where; the first's file still points at the first server.
func TestSecondServeKeepsTheFirstsKubeconfig(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	first, _ := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...), KubeconfigPath: kc, Out: &bytes.Buffer{}})
	if code, _ := get(t, first.URL()+"/healthz"); code != 200 { // serving: its kubeconfig is written
		t.Fatalf("first serve: /healthz %d", code)
	}
	var out bytes.Buffer
	second, stop := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...), KubeconfigPath: kc, Out: &out})
	if code, _ := get(t, second.URL()+"/healthz"); code != 200 { // serving: the kubeconfig is written
		t.Fatalf("second serve: /healthz %d", code)
	}
	if err := stop(); err != nil { // Run has returned: out is ours to read
		t.Fatal(err)
	}
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: kc})
	if err != nil || cc.Server != first.URL() {
		t.Fatalf("first kubeconfig now points at %q (%v), want %s", cc.Server, err, first.URL())
	}
	port := second.URL()[strings.LastIndex(second.URL(), ":")+1:]
	cc2, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: kc + "-" + port})
	if err != nil || cc2.Server != second.URL() {
		t.Fatalf("second kubeconfig: %v %v", cc2, err)
	}
	if !strings.Contains(out.String(), "left "+kc+" alone") || !strings.Contains(out.String(), kc+"-"+port) {
		t.Errorf("second serve said %q", out.String())
	}
}
