package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestClientRows checks once that the client rows measure what they say:
// porthole's client moves every byte on both wires with its CPU counted,
// and porthole cp and kubectl cp copy a file both ways through porthole
// serve, each copy checked for its size.
func TestClientRows(t *testing.T) {
	dir := t.TempDir()
	bin := binary(t, "../..", "./cmd/porthole", "porthole")
	n, err := StartPorthole(t.Context(), bin, dir, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	for _, w := range []Wire{WebSocket, SPDY} {
		sp, err := PortholeThroughput(t.Context(), n, w, 4<<20)
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if sp.MBps <= 0 || sp.ClientCPU <= 0 {
			t.Errorf("%s: %+v, want a speed and the client's CPU", w, sp)
		}
	}
	kubectl := ""
	for _, k := range harness.FindKubectls("") {
		if k.Path != "" {
			kubectl = k.Path
		}
	}
	if kubectl == "" {
		t.Fatal("no kubectl on this machine")
	}
	for _, cp := range []Copier{PortholeCopier(bin, n.Kubeconfig), KubectlCopier(kubectl, n.Kubeconfig, filepath.Join(dir, "home"))} {
		for _, upload := range []bool{true, false} {
			sp, err := CopyThroughput(t.Context(), n, cp, dir, 3<<20+5, upload)
			if err != nil {
				t.Fatalf("%s upload=%v: %v", cp.Name, upload, err)
			}
			if sp.MBps <= 0 || sp.ClientCPU <= 0 {
				t.Errorf("%s upload=%v: %+v, want a speed and the client's CPU", cp.Name, upload, sp)
			}
		}
	}
}
