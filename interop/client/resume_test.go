package client

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// cutAt passes writes on and, once more than n bytes went through, cuts
// the proxy's connections (stalled, then reset), so the client's
// connection breaks mid-output.
type cutAt struct {
	w     io.Writer
	n     int64
	seen  int64
	proxy *harness.Proxy
}

func (c *cutAt) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.seen += int64(n)
	if c.seen > c.n && c.proxy.Cuts() == 0 {
		c.proxy.Cut(500 * time.Millisecond)
	}
	return n, err
}

// TestCLIResume: the connection between porthole and serve is cut (a
// stall, then a reset: no clean close) in the middle of the output of
// 16 MiB of stdin sent through cat; porthole resumes by itself, says so in
// two lines, and every byte arrives once, with exit code 0.
func TestCLIResume(t *testing.T) {
	c := newCLI(t)
	in, err := os.Open(env.Input.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := harness.NewHashWriter()
	mark := c.proxy.Mark()
	code, stderr := c.run(t, nil, in, &cutAt{w: out, n: 4 << 20, proxy: c.proxy}, "exec", "-i", harness.PodExec, "--", "cat")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if c.proxy.Cuts() != 1 {
		t.Fatalf("the connection was never cut (%d bytes out)", out.Len())
	}
	if out.Len() != env.Input.Size || out.Sum() != env.Input.SHA256 {
		t.Errorf("stdout %d bytes sha256 %s, want the input's %d bytes sha256 %s", out.Len(), out.Sum(), env.Input.Size, env.Input.SHA256)
	}
	if want := "connection lost, resuming session...\nresumed\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	c.upgrades(t, mark, wsOK, wsOK)
}

// TestCLIResumeTerminal: exec -it sh under a real terminal; the connection
// is cut while the shell is idle; porthole resumes the same shell (its
// variable is still set), the terminal stays raw, and the exit code after
// the resume is the shell's.
func TestCLIResumeTerminal(t *testing.T) {
	c := newCLI(t)
	r := startPTY(t, c, 24, 80, "exec", "-it", harness.PodExec, "--", "sh")
	r.send(t, "X=4''2; echo SET''$X\n")
	r.await(t, "SET42")
	c.proxy.Cut(300 * time.Millisecond)
	r.await(t, "resumed")
	r.checkRaw(t)
	r.send(t, "echo VAL''=$X\n")
	r.await(t, "VAL=42")
	r.send(t, "exit 7\n")
	if code := r.exitCode(t); code != 7 {
		t.Errorf("exit code %d, want 7; terminal:\n%s", code, r.output())
	}
	r.checkRestored(t)
	if out := r.drain(t); !strings.Contains(out, "\r\nconnection lost, resuming session...\r\nresumed\r\n") {
		t.Errorf("no resume notices on their own lines; terminal:\n%q", out)
	}
}

// TestCLIResumeAttach: attach -it resumes after a cut too, and the detach
// keys still end it with exit 0.
func TestCLIResumeAttach(t *testing.T) {
	c := newCLI(t)
	r := startPTY(t, c, 24, 80, "attach", "-it", harness.PodTTY)
	r.await(t, "If you don't see a command prompt, try pressing enter.")
	r.send(t, "echo BEFORE''CUT\n")
	r.await(t, "BEFORECUT")
	c.proxy.Cut(300 * time.Millisecond)
	r.await(t, "resumed")
	r.send(t, "echo AFTER''CUT\n")
	r.await(t, "AFTERCUT")
	r.send(t, "\x10\x11") // ctrl-p ctrl-q
	if code := r.exitCode(t); code != 0 {
		t.Fatalf("exit %d after detaching; terminal:\n%s", code, r.drain(t))
	}
	r.checkRestored(t)
}
