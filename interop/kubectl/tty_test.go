package kubectl

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/creack/pty"

	"github.com/porthole/porthole/interop/internal/harness"
)

// startPTY starts kubectl args on a new pty of the given size.
func (c *client) startPTY(t *testing.T, rows, cols uint16, args ...string) *harness.PTY {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	return harness.StartPTY(t, c.command(ctx, args...), cancel, rows, cols)
}

// testTTYSize: `kubectl exec -it pod -- stty size` must print the size of
// kubectl's terminal, every time (a server that starts the process before
// applying the first resize prints "0 0" or the default 24 80).
func (c *client) testTTYSize(t *testing.T) {
	sizes := [][2]uint16{{37, 101}, {50, 132}, {13, 47}, {61, 203}}
	for i, sz := range sizes {
		t.Run(fmt.Sprintf("run-%d", i), func(t *testing.T) {
			mark := env.Server.Proxy.Mark()
			s := c.startPTY(t, sz[0], sz[1], "exec", "-it", harness.PodExec, "--", "stty", "size")
			got := s.NextSize(t)
			code, rest := s.Wait(t)
			c.checkWire(t, mark)
			if want := fmt.Sprintf("%d %d", sz[0], sz[1]); got != want {
				t.Errorf("stty size: got %q, want %q", got, want)
			}
			if code != 0 {
				t.Errorf("exit code: got %d, want 0 (output %q)", code, rest)
			}
		})
	}
}

// testTTYResize changes kubectl's terminal size mid-session (the kernel
// sends kubectl SIGWINCH) and expects the remote terminal to follow. The
// resize travels on its own channel, so the test asks again until the new
// size shows; each question is a round trip, no timer involved.
func (c *client) testTTYResize(t *testing.T) {
	mark := env.Server.Proxy.Mark()
	s := c.startPTY(t, 24, 80, "exec", "-it", harness.PodExec, "--",
		"sh", "-c", `stty size; while read x; do stty size; done`)
	if got := s.NextSize(t); got != "24 80" {
		t.Fatalf("initial stty size: got %q, want %q", got, "24 80")
	}
	for i, sz := range [][2]uint16{{40, 120}, {30, 90}} {
		if err := pty.Setsize(s.Ptmx, &pty.Winsize{Rows: sz[0], Cols: sz[1]}); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%d %d", sz[0], sz[1])
		if got := s.AwaitSize(t, "\n", want); got != want {
			t.Fatalf("resize %d: stty size got %q, want %q", i, got, want)
		}
	}
	// Ctrl-D: the remote read sees end of input, the loop and sh end.
	if _, err := io.WriteString(s.Ptmx, "\x04"); err != nil {
		t.Fatal(err)
	}
	code, rest := s.Wait(t)
	c.checkWire(t, mark)
	if code != 0 {
		t.Errorf("exit code: got %d, want 0 (output %q)", code, rest)
	}
}
