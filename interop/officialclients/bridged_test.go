package officialclients

import (
	"strings"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/interop/internal/official"
)

// TestBridged: both official clients through `porthole serve
// --session-join`, where every interactive session is bridged (the gateway
// terminates the client's wire, keeps the output for watchers, and runs
// the session on serve's node in process) instead of spliced. The Python
// client speaks WebSocket v4 only, the JavaScript client v5. Each execs
// with 8 MiB of stdin in one write (the pod's hash of it, stderr, exit
// code 3), attaches to the running cat, and opens a tty exec that it
// resizes its own way (stty's answer, exit code 5); serve's log shows
// each of those sessions ran in process.
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
	runs := 0
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			c.Need(t)
			runs += 3
			t.Run("exec", func(t *testing.T) { c.Exec(t, at(srv.Kubeconfig, harness.PodExec), 8<<20) })
			t.Run("attach", func(t *testing.T) { c.Attach(t, at(srv.Kubeconfig, harness.PodCat)) })
			t.Run("tty-resize", func(t *testing.T) { c.TTYResize(t, at(srv.Kubeconfig, harness.PodExec)) })
		})
	}
	if n := strings.Count(srv.LogTail(1<<20), "wire=in-process"); n != runs {
		t.Errorf("serve ran %d sessions in process, want %d (three per client)\n%s", n, runs, srv.LogTail(8192))
	}
}
