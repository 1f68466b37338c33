package kubectl

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// reapTimeout bounds how long porthole may take to end a session's process
// after its client vanished.
const reapTimeout = 15 * time.Second

// testVanished kills kubectl with SIGKILL (no close frame, no FIN on the
// streams, just a dead TCP connection) during a running command, and
// requires porthole to end the command: no process with the unique marker
// may survive.
func (c *client) testVanished(t *testing.T) {
	t.Run("exec-sleep", func(t *testing.T) {
		marker := fmt.Sprintf("1000.%09d", time.Now().UnixNano()%1e9)
		ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
		defer cancel()
		cmd := c.command(ctx, "exec", harness.PodExec, "--", "sleep", marker)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := harness.AwaitProcs(ctx, "sleep\x00"+marker, reapTimeout); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatal(err)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err := harness.AwaitNoProcs(t.Context(), marker, reapTimeout); err != nil {
			t.Error(err)
		}
	})
	t.Run("exec-tty-sh", func(t *testing.T) {
		marker := fmt.Sprintf("1001.%09d", time.Now().UnixNano()%1e9)
		s := c.startPTY(t, 24, 80, "exec", "-it", harness.PodExec, "--", "sh")
		// An interactive shell on the remote tty runs sleep as its job.
		if _, err := io.WriteString(s.Ptmx, "sleep "+marker+"\n"); err != nil {
			t.Fatal(err)
		}
		if err := harness.AwaitProcs(t.Context(), "sleep\x00"+marker, reapTimeout); err != nil {
			t.Fatal(err)
		}
		s.Cancel() // SIGKILL kubectl
		<-s.Done
		if err := harness.AwaitNoProcs(t.Context(), marker, reapTimeout); err != nil {
			t.Error(err)
		}
	})
}
