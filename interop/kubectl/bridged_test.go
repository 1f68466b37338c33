package kubectl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestBridged runs kubectl through sessions the gateway bridges instead of
// splicing: `porthole serve --session-join` terminates an interactive
// exec on both sides so that joiners can type into it, and serve runs such
// sessions on its node in process (gateway.Options.InProcessSessions).
// Every kubectl version on each of its wires must get the stdin echoed byte
// for byte, stderr apart, and the exit code, as over a spliced session,
// and attach to a running process, detach and attach again.
func TestBridged(t *testing.T) {
	ctx := t.Context()
	srv, err := harness.StartServer(ctx, env.Porthole, t.TempDir(), "--session-join", "-v", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	for _, k := range env.Kubectls {
		for _, w := range k.Wires() {
			t.Run(k.Name()+"/"+w.Name, func(t *testing.T) {
				in, err := os.Open(env.Input.Path)
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				out := harness.NewHashWriter()
				var errOut bytes.Buffer
				cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
				defer cancel()
				cmd := k.Command(cctx, w, t.TempDir(), srv.Kubeconfig,
					"exec", "-i", harness.PodExec, "--", "sh", "-c", "cat; echo done >&2; exit 7")
				cmd.Stdin, cmd.Stdout, cmd.Stderr = in, out, &errOut
				err = cmd.Run()
				if code := cmd.ProcessState.ExitCode(); code != 7 {
					t.Fatalf("exit code %d (%v), want 7; stderr %q", code, err, errOut.String())
				}
				if out.Len() != env.Input.Size || out.Sum() != env.Input.SHA256 {
					t.Errorf("stdout: %d bytes sha256 %s, want the input's %d bytes sha256 %s", out.Len(), out.Sum(), env.Input.Size, env.Input.SHA256)
				}
				if !strings.HasPrefix(errOut.String(), "done\n") {
					t.Errorf("stderr %q, want the process's \"done\" first", errOut.String())
				}

				// attach -i to the running cat: lines come back; after a
				// detach (stdin ended, kubectl killed) a second attach
				// still echoes.
				c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: srv.Kubeconfig}
				nonce := fmt.Sprintf("bridged-%s-%s-%d", k.Name(), w.Name, time.Now().UnixNano())
				a := c.startAttach(t)
				a.echo(t, "first-"+nonce)
				a.detach(t)
				b := c.startAttach(t)
				b.echo(t, "again-"+nonce)
				_ = b.cmd.Process.Kill()
			})
		}
	}
	// Each session (an exec and two attaches per run) ran bridged, on the
	// node in process.
	runs := 0
	for _, k := range env.Kubectls {
		runs += 3 * len(k.Wires())
	}
	log := srv.LogTail(1 << 20)
	if n := strings.Count(log, "wire=in-process"); n != runs {
		t.Errorf("serve ran %d sessions in process, want %d (three per run)", n, runs)
	}
	// The gateway's record of each says so too.
	if n := strings.Count(log, "wireOut=in-process"); n != runs {
		t.Errorf("serve's gateway logged %d sessions ended with wireOut=in-process, want %d", n, runs)
	}
}
