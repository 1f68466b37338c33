package kubectl

import (
	"io"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// detachKeysMinor is the first kubectl here with --detach-keys (ctrl-p
// ctrl-q); older ones pass those bytes through.
const detachKeysMinor = 34

// testAttachTTY attaches to the tty pod's shell under a real terminal:
// kubectl sends (width+1, height+1) then the real size, and the remote
// terminal must end at the real size. Then the client leaves (detach keys
// where kubectl has them, else SIGKILL) and a second attach proves the
// shell survived.
func (c *client) testAttachTTY(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("porthole log tail:\n%s", env.Server.LogTail(16<<10))
		}
	})
	mark := env.Server.Proxy.Mark()
	s := c.startPTY(t, 33, 111, "attach", "-it", harness.PodTTY, "-c", harness.ContainerMain)
	awaitSize(t, s, "33 111")
	c.checkWire(t, mark)
	if c.k.Minor >= detachKeysMinor {
		if _, err := io.WriteString(s.Ptmx, "\x10\x11"); err != nil {
			t.Fatal(err)
		}
		if code, rest := s.Wait(t); code != 0 {
			t.Errorf("kubectl after detach keys: exit code %d, want 0 (output %q)", code, rest)
		}
	} else {
		s.Cancel()
		<-s.Done
	}

	again := c.startPTY(t, 21, 71, "attach", "-it", harness.PodTTY, "-c", harness.ContainerMain)
	awaitSize(t, again, "21 71")
	again.Cancel()
	<-again.Done
}

// awaitSize asks the remote shell for its terminal size until it reports
// want. The resize races the typed command (separate channels), so each
// attempt is one more round trip, bounded in number.
func awaitSize(t *testing.T, s *harness.PTY, want string) {
	t.Helper()
	if got := s.AwaitSize(t, "stty size\n", want); got != want {
		t.Fatalf("stty size: got %q, want %q", got, want)
	}
}
