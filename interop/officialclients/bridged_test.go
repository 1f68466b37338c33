package officialclients

import (
	"strings"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestBridged: both official clients exec through `porthole serve
// --session-join`, where every exec is a bridged session (the gateway
// relays it, keeps its output for watchers and runs it on serve's node in
// process) instead of a spliced one. Each sends 8 MiB of stdin in one
// write and checks the pod's hash of it, stderr and exit code 3; serve's
// log shows each session ran in process.
func TestBridged(t *testing.T) {
	srv, err := harness.StartServer(t.Context(), env.Porthole, t.TempDir(), "--session-join", "-v", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	const size = 8 << 20
	runs := 0
	t.Run("python", func(t *testing.T) {
		needPython(t)
		runs++
		pythonExec(t, srv.Kubeconfig, size)
	})
	t.Run("javascript", func(t *testing.T) {
		needJS(t)
		runs++
		jsExec(t, srv.Kubeconfig, size)
	})
	if n := strings.Count(srv.LogTail(1<<20), "wire=in-process"); n != runs {
		t.Errorf("serve ran %d sessions in process, want %d (one per client run)\n%s", n, runs, srv.LogTail(8192))
	}
}
