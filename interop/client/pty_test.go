package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/interop/internal/harness"
)

// ptyRun is porthole running as the session leader of a real
// pseudo-terminal, as under a user's shell: the kernel sends it SIGWINCH
// when the window changes. The test keeps the terminal side open too, so it
// can read the terminal's modes after porthole exited.
type ptyRun struct {
	ptm, tty *os.File
	cmd      *exec.Cmd
	done     chan struct{}
	err      error // porthole's exit, set before done closes

	mu      sync.Mutex
	out     strings.Builder
	changed chan struct{}
}

func startPTY(t *testing.T, c *cliSetup, rows, cols uint16, args ...string) *ptyRun {
	t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	ptm = pollable(t, ptm)
	setSize(t, ptm, rows, cols)
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	r := &ptyRun{ptm: ptm, tty: tty, done: make(chan struct{}), changed: make(chan struct{})}
	r.cmd = c.command(ctx, nil, args...)
	r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = tty, tty, tty
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start porthole: %v", err)
	}
	readDone := make(chan struct{})
	go r.readLoop(readDone)
	go r.wait(cancel)
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		tty.Close()
		ptm.Close()
		<-readDone
	})
	return r
}

// pollable is the pty master f, which creack/pty leaves in blocking mode,
// as a file in non-blocking mode on the runtime's poller: closing it ends
// a read in progress. A blocking read of the master ends only once no one
// holds the terminal, so a test that failed with the terminal still held
// would otherwise hang in its cleanup (waiting for its reader) and never
// report.
func pollable(t *testing.T, f *os.File) *os.File {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	var derr error
	if err := rc.Control(func(old uintptr) { fd, derr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		t.Fatalf("dup the pty master: %v %v", err, derr)
	}
	f.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), f.Name())
}

// setSize sets the terminal's window size through the master, without
// its Fd, which would put it back in blocking mode (see pollable).
func setSize(t *testing.T, ptm *os.File, rows, cols uint16) {
	t.Helper()
	rc, err := ptm.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("set the window size: %v", serr)
	}
}

func (r *ptyRun) wait(cancel context.CancelFunc) {
	r.err = r.cmd.Wait()
	cancel()
	close(r.done)
}

// readLoop collects the terminal's output until the master is closed.
func (r *ptyRun) readLoop(done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 4096)
	for {
		n, err := r.ptm.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.out.Write(buf[:n])
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// await waits until the output contains s.
func (r *ptyRun) await(t *testing.T, s string) {
	t.Helper()
	timer := time.NewTimer(sessionTimeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		ok, ch, out := strings.Contains(r.out.String(), s), r.changed, r.out.String()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-r.done:
			r.mu.Lock()
			out = r.out.String()
			r.mu.Unlock()
			if !strings.Contains(out, s) {
				t.Fatalf("porthole exited (%v) before %q appeared; terminal:\n%s", r.err, s, out)
			}
			return
		case <-timer.C:
			t.Fatalf("%q never appeared; terminal:\n%s", s, out)
		}
	}
}

func (r *ptyRun) send(t *testing.T, s string) {
	t.Helper()
	if _, err := r.ptm.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// exitCode waits for porthole to exit.
func (r *ptyRun) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(sessionTimeout):
		t.Fatal("porthole did not exit")
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	if r.err != nil {
		t.Fatalf("porthole: %v", r.err)
	}
	return 0
}

// lflag is the terminal's local mode flags.
func (r *ptyRun) lflag(t *testing.T) uint32 {
	t.Helper()
	st, err := unix.IoctlGetTermios(int(r.tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return st.Lflag
}

func (r *ptyRun) checkRaw(t *testing.T) {
	t.Helper()
	if r.lflag(t)&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Error("terminal not raw during the session (ICANON, ECHO or ISIG on)")
	}
}

func (r *ptyRun) checkRestored(t *testing.T) {
	t.Helper()
	if f := r.lflag(t); f&(unix.ICANON|unix.ECHO|unix.ISIG) != unix.ICANON|unix.ECHO|unix.ISIG {
		t.Errorf("terminal not restored after porthole exited: lflag %#x lacks ICANON, ECHO or ISIG", f)
	}
}

// TestCLITerminal: porthole exec -it under a real terminal goes raw, sends
// the window size before the shell starts and the new one on SIGWINCH,
// passes the remote exit code, and restores the terminal.
func TestCLITerminal(t *testing.T) {
	c := newCLI(t)
	r := startPTY(t, c, 30, 100, "exec", "-it", harness.PodExec, "--", "sh")
	r.send(t, "stty size; echo SIZE''DONE\n")
	r.await(t, "SIZEDONE")
	r.checkRaw(t)
	if !strings.Contains(r.output(), "30 100") {
		t.Errorf("stty size did not print 30 100; terminal:\n%s", r.output())
	}
	setSize(t, r.ptm, 43, 132)
	r.send(t, `while [ "$(stty size)" != "43 132" ]; do sleep 0.05; done; echo RE''SIZED`+"\n")
	r.await(t, "RESIZED")
	r.send(t, "exit 3\n")
	if code := r.exitCode(t); code != 3 {
		t.Errorf("exit code %d, want 3; terminal:\n%s", code, r.output())
	}
	r.checkRestored(t)
}

// TestCLIConnectionDrop: the connection dies mid-session (the proxy in
// front of the server closes it and refuses new ones); porthole fails and
// the terminal is restored. Without resume at once; with it (serve offers
// it), after saying it resumes and trying for --resume-timeout.
func TestCLIConnectionDrop(t *testing.T) {
	for _, tc := range []struct {
		timeout string
		notice  bool
	}{
		{"0", false},
		{"2s", true},
	} {
		t.Run("resume-timeout="+tc.timeout, func(t *testing.T) {
			c := newCLI(t)
			r := startPTY(t, c, 24, 80, "exec", "-it", "--resume-timeout="+tc.timeout, harness.PodExec, "--", "sh")
			r.send(t, "echo UP''NOW\n")
			r.await(t, "UPNOW")
			r.checkRaw(t)
			if err := c.proxy.Close(); err != nil {
				t.Fatal(err)
			}
			if code := r.exitCode(t); code == 0 {
				t.Errorf("exit code 0 after the connection dropped; terminal:\n%s", r.output())
			}
			r.checkRestored(t)
			out := r.drain(t)
			if !strings.Contains(out, "error: session ended without a status") {
				t.Errorf("no error printed; terminal:\n%s", out)
			}
			if got := strings.Contains(out, "connection lost, resuming session..."); got != tc.notice {
				t.Errorf("resume notice printed: %v, want %v; terminal:\n%s", got, tc.notice, out)
			}
			if tc.notice && !strings.Contains(out, "gave up after 2s") {
				t.Errorf("the error does not say resume gave up after 2s; terminal:\n%s", out)
			}
		})
	}
}

// drain returns everything porthole wrote, once it has exited: a marker
// written to the terminal after the exit comes out after all of it.
func (r *ptyRun) drain(t *testing.T) string {
	t.Helper()
	const marker = "\n--porthole-exited--\n"
	if _, err := r.tty.WriteString(marker); err != nil {
		t.Fatal(err)
	}
	timer := time.NewTimer(sessionTimeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		out, ch := r.out.String(), r.changed
		r.mu.Unlock()
		if i := strings.Index(out, "--porthole-exited--"); i >= 0 {
			return out[:i]
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("terminal output never drained:\n%s", out)
		}
	}
}

func (r *ptyRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// TestCLIAttachDetach: porthole attach -it to the tty pod's shell under a
// real terminal sends kubectl's +1 size then the real one, and the detach
// keys end the session with exit 0, the resume hint and the terminal
// restored; the shell keeps running for the next attach.
func TestCLIAttachDetach(t *testing.T) {
	c := newCLI(t)
	for i := range 2 {
		r := startPTY(t, c, 33, 111, "attach", "-it", harness.PodTTY)
		r.await(t, "If you don't see a command prompt, try pressing enter.")
		marker := fmt.Sprintf("AT''TACHED%d", i)
		r.send(t, `while [ "$(stty size)" != "33 111" ]; do sleep 0.05; done; echo `+marker+"\n")
		r.await(t, strings.ReplaceAll(marker, "''", ""))
		r.checkRaw(t)
		r.send(t, "\x10\x11") // ctrl-p ctrl-q
		if code := r.exitCode(t); code != 0 {
			t.Fatalf("attach %d: exit %d after detaching; terminal:\n%s", i, code, r.drain(t))
		}
		r.checkRestored(t)
		if out, want := r.drain(t), "Session ended, resume using 'porthole attach tty -c main -n default -i -t' command"; !strings.Contains(out, want) {
			t.Errorf("attach %d: no resume hint %q; terminal:\n%s", i, want, out)
		}
	}
}
