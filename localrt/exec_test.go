package localrt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/resize"
)

// sample is n deterministic pseudo-random bytes (every byte value occurs).
func sample(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(b)
	return b
}

// plainWriter hides bytes.Buffer's ReadFrom, so the copy takes the
// io.Copy path.
type plainWriter struct{ buf bytes.Buffer }

func (w *plainWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

// output is a writer under test and what it received.
type output interface {
	io.Writer
	Bytes() []byte
}

type rfWriter struct{ bytes.Buffer } // has ReadFrom

type plainOut struct{ plainWriter }

func (p *plainOut) Bytes() []byte { return p.buf.Bytes() }

func TestExecBytes(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	data := sample(8 << 20)
	tests := []struct {
		name       string
		cmd        []string
		fileStdin  bool // an *os.File stdin (the node's way), else a plain reader
		stderr     bool
		readerFrom bool
		want       []byte
	}{
		{"cat/file stdin/ReaderFrom", []string{"cat"}, true, false, true, data},
		{"cat/file stdin/plain writer", []string{"cat"}, true, false, false, data},
		{"cat/reader stdin/ReaderFrom", []string{"cat"}, false, false, true, data},
		{"cat to stderr", []string{"sh", "-c", "cat >&2"}, true, true, true, data},
		{"cat to stderr/reader stdin/plain", []string{"sh", "-c", "cat >&2"}, false, true, false, data},
		{"head -c/file stdin", []string{"head", "-c", "1000003"}, true, false, true, data[:1000003]},
		{"head -c/reader stdin", []string{"head", "-c", "1000003"}, false, false, false, data[:1000003]},
		{"no stdin", []string{"head", "-c", "5", "/dev/zero"}, false, false, true, make([]byte, 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out output = &rfWriter{}
			if !tt.readerFrom {
				out = &plainOut{}
			}
			var other bytes.Buffer
			s := node.Streams{Stdout: out, Stderr: &other}
			if tt.stderr {
				s.Stdout, s.Stderr = &other, out
			}
			var feed func() error
			switch {
			case tt.name == "no stdin":
			case tt.fileStdin:
				pr, pw := osPipe(t)
				s.Stdin = pr
				feed = func() error {
					_, err := pw.Write(data)
					pw.Close()
					return err
				}
			default:
				s.Stdin = bytes.NewReader(data)
			}
			fed := make(chan error, 1)
			if feed != nil {
				go func() { fed <- feed() }()
			}
			err := r.Exec(context.Background(), ref("p", "main"), tt.cmd, s)
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if f, ok := s.Stdin.(*os.File); ok {
				f.Close() // as the node does after Exec: unblocks a feeder head -c left behind
				<-fed
			}
			got := out.Bytes()
			if len(got) != len(tt.want) || sha256.Sum256(got) != sha256.Sum256(tt.want) {
				t.Errorf("got %d bytes (sha256 %x), want %d (sha256 %x)", len(got), sha256.Sum256(got), len(tt.want), sha256.Sum256(tt.want))
			}
			if other.Len() != 0 {
				t.Errorf("other stream got %q, want nothing", other.Bytes())
			}
		})
	}
}

func TestExecExitCodes(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	tests := []struct {
		script string
		want   int // 0: nil error
	}{
		{"exit 0", 0},
		{"exit 1", 1},
		{"exit 42", 42},
		{"exit 255", 255},
		{"kill -9 $$", 137},
		{"kill -TERM $$", 143},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			err := r.Exec(context.Background(), ref("p", "main"), []string{"sh", "-c", tt.script}, node.Streams{})
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var ec interface{ ExitCode() int }
			if !errors.As(err, &ec) {
				t.Fatalf("got %v (%T), want an error with ExitCode", err, err)
			}
			if ec.ExitCode() != tt.want {
				t.Errorf("got exit code %d, want %d", ec.ExitCode(), tt.want)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	r := start(t,
		testPod("p", kube.Container{}, ""),
		testPod("done", kube.Container{Command: []string{"true"}}, restartNever))
	waitPod(t, r, "p", "running", isRunning)
	waitPod(t, r, "done", "succeeded", func(p *kube.Pod) bool { return p.Status.Phase == phaseSucceeded })
	tests := []struct {
		name string
		c    node.Container
		cmd  []string
		want error
	}{
		{"unknown pod", ref("nope", "main"), []string{"true"}, node.ErrNotFound},
		{"unknown container", ref("p", "nope"), []string{"true"}, node.ErrNotFound},
		{"wrong uid", node.Container{PodRef: node.PodRef{Namespace: "default", Name: "p", UID: "x"}, Name: "main"}, []string{"true"}, node.ErrNotFound},
		{"not running", ref("done", "main"), []string{"true"}, node.ErrNotRunning},
		{"command not found", ref("p", "main"), []string{"no-such-command-porthole"}, exec.ErrNotFound},
		{"missing path", ref("p", "main"), []string{"/no/such/file"}, fs.ErrNotExist},
		{"directory", ref("p", "main"), []string{"/"}, fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Exec(context.Background(), tt.c, tt.cmd, node.Streams{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.want)
			}
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) {
				t.Errorf("got exit code %d, want no exit code", ec.ExitCode())
			}
		})
	}
	err := r.Exec(context.Background(), ref("p", "main"), []string{"no-such-command-porthole"}, node.Streams{})
	if want := `exec: "no-such-command-porthole": executable file not found in $PATH`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if err := r.Exec(context.Background(), ref("p", "main"), []string{"/"}, node.Streams{}); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("got %v, want it to match exec.ErrNotFound too", err)
	}
}

func TestExecEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	env := []kube.EnvVar{{Name: "FOO", Value: "bar baz"}, {Name: "HOSTNAME", Value: "override"}}
	r := start(t,
		testPod("p", kube.Container{Env: env[:1]}, ""),
		testPod("q", kube.Container{WorkingDir: dir, Env: env}, ""))
	waitPod(t, r, "p", "running", isRunning)
	waitPod(t, r, "q", "running", isRunning)
	script := `pwd; echo "$HOSTNAME"; echo "$FOO"; echo "${TERM-unset}"; [ -n "$PATH" ] && echo path`
	tests := []struct {
		pod, dir, want string
		tty            bool
	}{
		{"p", filepath.Join(r.stateDir, "default", "p"), "%s\np\nbar baz\nunset\npath\n", false},
		{"p", filepath.Join(r.stateDir, "default", "p"), "%s\r\np\r\nbar baz\r\nxterm\r\npath\r\n", true},
		{"q", dir, "%s\noverride\nbar baz\nunset\npath\n", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/tty=%v", tt.pod, tt.tty), func(t *testing.T) {
			var out bytes.Buffer
			err := r.Exec(context.Background(), ref(tt.pod, "main"), []string{"sh", "-c", script}, node.Streams{Stdout: &out, TTY: tt.tty})
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			real, err := filepath.EvalSymlinks(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf(tt.want, real); out.String() != want {
				t.Errorf("got %q, want %q", out.String(), want)
			}
		})
	}
}

func TestExecTTYInitialSize(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	for i := 0; i < 20; i++ {
		size := resize.Size{Width: uint16(40 + i*7), Height: uint16(10 + i*3)}
		if i == 0 {
			size = resize.Size{}
		}
		var out bytes.Buffer
		err := r.Exec(context.Background(), ref("p", "main"), []string{"stty", "size"}, node.Streams{Stdout: &out, TTY: true, Size: size})
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		want := fmt.Sprintf("%d %d\r\n", size.Height, size.Width)
		if i == 0 {
			want = "24 80\r\n"
		}
		if out.String() != want {
			t.Fatalf("run %d: got %q, want %q", i, out.String(), want)
		}
	}
}

func TestExecTTYResize(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	out := newLineReader(t)
	sizes := make(chan resize.Size)
	// The process reports its size on SIGWINCH, which the kernel sends when
	// the pty's size changes; it loops in short sleeps waiting for it.
	script := `trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done`
	done := make(chan error, 1)
	go func() {
		done <- r.Exec(context.Background(), ref("p", "main"), []string{"sh", "-c", script},
			node.Streams{Stdout: out.pw, TTY: true, Size: resize.Size{Width: 80, Height: 24}, Resize: sizes})
		out.pw.Close()
	}()
	out.until(t, "ready")
	sizes <- resize.Size{Width: 0, Height: 5} // not a size: ignored
	sizes <- resize.Size{Width: 123, Height: 45}
	close(sizes)
	if line := out.until(t, " "); line != "45 123\r\n" {
		t.Errorf("got %q, want %q", line, "45 123\r\n")
	}
	out.discardRest()
	if err := <-done; err != nil {
		t.Fatalf("Exec: %v", err)
	}
}

// TestExecCancelNoOrphans cancels an exec whose shell has a background
// child, and checks that both processes are gone when Exec returns.
func TestExecCancelNoOrphans(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tty    bool
		script string
	}{
		{"pipes", false, `sleep 1000 & echo "$$ $!"; wait`},
		{"tty", true, `sleep 1000 & echo "$$ $!"; wait`},
		{"pipes/signals ignored", false, `trap '' TERM HUP; sleep 1000 & echo "$$ $!"; wait`},
		{"tty/signals ignored", true, `trap '' TERM HUP; sleep 1000 & echo "$$ $!"; wait`},
		// The shell dies at once; only its child ignores the signal.
		{"pipes/child ignores signals", false, `(trap '' TERM HUP; exec sleep 1000) & echo "$$ $!"; wait`},
		{"tty/child ignores signals", true, `(trap '' TERM HUP; exec sleep 1000) & echo "$$ $!"; wait`},
		// Job control puts the child in a process group of its own, out of
		// reach of the group kill: an interactive shell's job, with SIGHUP
		// ignored (inherited, as under nohup) so the hang-up spares it.
		{"tty/job in its own group", true, `set -m; trap '' HUP; sleep 1000 & echo "$$ $!"; wait`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A short drain grace: were a child left alive holding stdout,
			// Exec would still return and waitGone would report it.
			r := startDrain(t, &Options{KillGrace: 100 * time.Millisecond}, 50*time.Millisecond, testPod("p", kube.Container{}, ""))
			waitPod(t, r, "p", "running", isRunning)
			out := newLineReader(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- r.Exec(ctx, ref("p", "main"), []string{"sh", "-c", tt.script}, node.Streams{Stdout: out.pw, TTY: tt.tty})
				out.pw.Close()
			}()
			var pids []int
			for _, f := range strings.Fields(out.until(t, " ")) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("pid %q: %v", f, err)
				}
				pids = append(pids, pid)
			}
			cancel()
			go out.discardRest()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Exec: got %v, want context.Canceled", err)
			}
			// The group was SIGKILLed before Exec returned; a kill is
			// delivered asynchronously, so wait for the exits (a pidfd
			// event), bounded by the failsafe.
			for _, pid := range pids {
				waitGone(t, pid)
			}
		})
	}
}

// TestExecBackgroundChild: a background child keeping the output open does
// not hold Exec once the shell exited; it dies with the Runtime.
func TestExecBackgroundChild(t *testing.T) {
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			r := startDrain(t, nil, 50*time.Millisecond, testPod("p", kube.Container{}, ""))
			waitPod(t, r, "p", "running", isRunning)
			var out bytes.Buffer
			// The child survives the terminal's hangup when its session leader exits.
			script := `(trap '' HUP; exec sleep 1000) & echo "$!"`
			err := r.Exec(context.Background(), ref("p", "main"), []string{"sh", "-c", script}, node.Streams{Stdout: &out, TTY: tty})
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			pid := atoi(t, out.String())
			if err := syscall.Kill(pid, 0); err != nil {
				t.Fatalf("background child %d: %v, want it alive until Close", pid, err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			waitGone(t, pid)
		})
	}
}

func TestExecStdinEOF(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	pr, pw := osPipe(t)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- r.Exec(context.Background(), ref("p", "main"), []string{"sh", "-c", "cat; echo eof"}, node.Streams{Stdin: pr, Stdout: &out})
	}()
	pw.WriteString("hello\n")
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if out.String() != "hello\neof\n" {
		t.Errorf("got %q, want %q", out.String(), "hello\neof\n")
	}
}

// TestExecHandsStdinFileOver: an *os.File stdin goes to the process as is
// and the runtime closes its copy once the process started (one descriptor
// less per idle session); the process still reads everything written.
func TestExecHandsStdinFileOver(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	pr, pw := osPipe(t)
	var out bytes.Buffer
	closedAtStart := make(chan bool, 1)
	done := make(chan error, 1)
	go func() {
		done <- r.Exec(context.Background(), ref("p", "main"), []string{"cat"}, node.Streams{Stdin: pr, Stdout: &out,
			Started: func() { closedAtStart <- pr.Fd() == ^uintptr(0) }})
	}()
	if !<-closedAtStart {
		t.Error("the runtime still holds the stdin file once the process started")
	}
	want := sample(200 << 10)
	pw.Write(want)
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("got %d bytes, want the %d written", out.Len(), len(want))
	}
}

// TestExecHoldsOnePidfd: a running exec costs this process one pidfd, its
// poller's: Go's own handle of the process is released (its exit status
// still arrives: TestExecExitCodes), and none is left once it ended.
func TestExecHoldsOnePidfd(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	before := pidfds(t) // the container's main process's
	pr, pw := osPipe(t)
	or, ow := osPipe(t)
	done := make(chan error, 1)
	go func() {
		done <- r.Exec(context.Background(), ref("p", "main"), []string{"cat"}, node.Streams{Stdin: pr, Stdout: ow})
	}()
	// The echo has passed through the runtime's poller: it runs.
	pw.WriteString("ping")
	echo := make([]byte, 4)
	if _, err := io.ReadFull(or, echo); err != nil || string(echo) != "ping" {
		t.Fatalf("echo %q: %v", echo, err)
	}
	during := pidfds(t)
	var exec []string
	for pid, n := range during {
		if before[pid] == 0 {
			exec = append(exec, fmt.Sprintf("%s: %d", pid, n))
		}
	}
	if len(exec) != 1 || !strings.HasSuffix(exec[0], ": 1") {
		t.Errorf("pidfds of processes new since the exec began: %v, want one process with one", exec)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Exec: %v", err)
	}
	for pid := range pidfds(t) {
		if before[pid] == 0 && during[pid] > 0 {
			t.Errorf("a pidfd of the exec's process %s is left", pid)
		}
	}
}

// pidfds counts this process's pidfds by the pid they refer to (Linux:
// /proc).
func pidfds(t *testing.T) map[string]int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	by := map[string]int{}
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l != "anon_inode:[pidfd]" {
			continue
		}
		info, _ := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		for _, line := range strings.Split(string(info), "\n") {
			if pid, ok := strings.CutPrefix(line, "Pid:"); ok {
				by[strings.TrimSpace(pid)]++
			}
		}
	}
	return by
}

// TestExecSlowReaderNoLoss: with a 1ms drain grace and a reader far slower
// than the process, every byte still arrives before Exec returns: the
// drain stops a copy only once the pipe is empty.
func TestExecSlowReaderNoLoss(t *testing.T) {
	r := startDrain(t, nil, time.Millisecond, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	data := sample(4 << 20)
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 512)
		for {
			n, err := pr.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				got <- b.Bytes()
				return
			}
		}
	}()
	err := r.Exec(context.Background(), ref("p", "main"), []string{"cat", file}, node.Streams{Stdout: pw})
	pw.Close()
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if b := <-got; sha256.Sum256(b) != sha256.Sum256(data) {
		t.Errorf("got %d bytes, want %d identical", len(b), len(data))
	}
}

// TestExecFrozenWriter: an exec whose client stops reading blocks only its
// own process (on a full pipe); another exec runs meanwhile, and cancelling
// the frozen one (its writes then fail, as the node makes them) ends it.
func TestExecFrozenWriter(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	waitPod(t, r, "p", "running", isRunning)
	frozenR, frozenW := io.Pipe() // never read
	ctx, cancel := context.WithCancel(context.Background())
	defer context.AfterFunc(ctx, func() { frozenR.CloseWithError(context.Canceled) })()
	out := newLineReader(t)
	done := make(chan error, 1)
	go func() {
		done <- r.Exec(ctx, ref("p", "main"), []string{"sh", "-c", `echo "$$" >&2; exec cat /dev/zero`}, node.Streams{Stdout: frozenW, Stderr: out.pw})
	}()
	pid := atoi(t, out.until(t, "\n"))
	var other bytes.Buffer
	if err := r.Exec(context.Background(), ref("p", "main"), []string{"echo", "meanwhile"}, node.Streams{Stdout: &other}); err != nil || other.String() != "meanwhile\n" {
		t.Fatalf("other exec: got %q, %v; want %q, nil", other.String(), err, "meanwhile\n")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("frozen exec: got %v, want context.Canceled", err)
	}
	waitGone(t, pid)
}

// TestExecIdleGoroutines: an idle exec (cat waiting on its stdin, stdout
// and stderr requested, the node's *os.File stdin) runs on its caller's
// goroutine alone: one readiness poller for both outputs and the exit.
// The older supervision (kept where there is no epoll) costs three more.
func TestExecIdleGoroutines(t *testing.T) {
	for _, tt := range []struct {
		name   string
		noPoll bool
		extra  int // goroutines beyond the caller's
	}{{"polled", false, 0}, {"fallback", true, 3}} {
		t.Run(tt.name, func(t *testing.T) {
			r := start(t, testPod("p", kube.Container{}, ""))
			r.noExecPoll = tt.noPoll
			waitPod(t, r, "p", "running", isRunning)
			// Goroutines are told apart by id, not counted: one left
			// over from an earlier test may end at any moment, and a
			// bare count then comes out one short.
			base := goroutineStacks()
			pr, pw := osPipe(t)
			out := newLineReader(t)
			var errOut bytes.Buffer
			done := make(chan error, 1)
			go func() {
				done <- r.Exec(context.Background(), ref("p", "main"), []string{"cat"}, node.Streams{Stdin: pr, Stdout: out.pw, Stderr: &errOut})
			}()
			pw.WriteString("ping\n")
			if got := out.until(t, "\n"); got != "ping\n" {
				t.Fatalf("echo: got %q", got)
			}
			want := 1 + tt.extra
			var added []string
			deadline := time.Now().Add(failsafe)
			for {
				added = newGoroutines(base)
				if len(added) == want || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if len(added) != want {
				t.Errorf("idle exec: %d goroutines over the baseline, want %d:\n%s", len(added), want, strings.Join(added, "\n\n"))
			}
			pw.Close()
			if err := <-done; err != nil {
				t.Fatalf("Exec: %v", err)
			}
		})
	}
}

// TestExecFallback runs the older supervision (a goroutine per output and
// one for the exit, where there is no epoll): bytes, exit code and
// cancellation as on the polled path.
func TestExecFallback(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	r.noExecPoll = true
	waitPod(t, r, "p", "running", isRunning)
	data := sample(1 << 20)
	var out rfWriter
	if err := r.Exec(context.Background(), ref("p", "main"), []string{"cat"}, node.Streams{Stdin: bytes.NewReader(data), Stdout: &out}); err != nil {
		t.Fatalf("cat: %v", err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("cat: got %d bytes, want %d identical", out.Len(), len(data))
	}
	var ee *ExitError
	if err := r.Exec(context.Background(), ref("p", "main"), []string{"sh", "-c", "exit 7"}, node.Streams{}); !errors.As(err, &ee) || ee.Code != 7 {
		t.Errorf("exit 7: got %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.Exec(ctx, ref("p", "main"), []string{"sleep", "60"}, node.Streams{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled sleep: got %v, want context.DeadlineExceeded", err)
	}
}

// TestTrackGroupForgetsEndedGroups: a session's process group stays
// tracked while it runs, and after its leader exited while other members
// live (they die with the container); once those have all gone, the next
// session's tracking forgets it, so the container holds live groups only
// and never signals a number the kernel may have reused. The groups here
// are the test's own children, which it reaps: an orphaned background
// process is reaped by init, and this machine's init reaps none.
func TestTrackGroupForgetsEndedGroups(t *testing.T) {
	ct := newContainer(nil, &kube.Container{Name: "main"})
	ct.cur = &run{} // running: an exec's end leaves live members be
	var pgids []int
	var cmds []*exec.Cmd
	for range 4 {
		cmd := exec.Command("sleep", "1000")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		cmds = append(cmds, cmd)
		pgids = append(pgids, cmd.Process.Pid)
	}
	for _, g := range pgids[:3] {
		ct.trackGroup(g)
	}
	// The first two sessions' leaders exit; their groups live on. (Here
	// the sleeps stand for both the reaped leader and its surviving
	// members; see TestLingeringGroupIDReused for a real one.)
	ct.untrackGroup(pgids[0])
	ct.untrackGroup(pgids[1])
	if len(ct.groups) != 3 {
		t.Fatalf("tracked %v with three live groups, want all three", ct.groups)
	}
	// Their last members end; the third session still runs.
	for _, cmd := range cmds[:2] {
		cmd.Process.Kill()
		cmd.Wait()
	}
	ct.trackGroup(pgids[3]) // the next session
	ct.mu.Lock()
	defer ct.mu.Unlock()
	want := map[int]bool{pgids[2]: false, pgids[3]: false}
	if !maps.Equal(ct.groups, want) {
		t.Errorf("tracked %v after two lingering groups ended, want %v", ct.groups, want)
	}
}

// TestLingeringGroupIDReused: a tracked group whose leader was reaped is
// not signalled once its id belongs to a process again: the group ended
// and the kernel handed the id on, here to an unrelated group (a sleep
// leading its own). Neither the pruning nor the container's stop touches
// that group, while a real lingering group (a shell's background sleep
// outliving the reaped shell) is kept, then killed.
func TestLingeringGroupIDReused(t *testing.T) {
	ct := newContainer(nil, &kube.Container{Name: "main"})
	ct.cur = &run{} // running: an exec's end leaves live members be

	// A real lingering group: its leader, sh, is reaped; its sleep lives on.
	sh := exec.Command("sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 & echo $!")
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := sh.Output()
	if err != nil {
		t.Fatal(err)
	}
	member, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("sh printed %q", out)
	}
	defer syscall.Kill(member, syscall.SIGKILL)
	lingering := sh.Process.Pid
	ct.trackGroup(lingering)
	ct.untrackGroup(lingering)

	// An unrelated group, whose id stands for one of ours that ended.
	other := exec.Command("sleep", "1000")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Process.Kill()
	ct.mu.Lock()
	ct.groups[other.Process.Pid] = true
	ct.mu.Unlock()

	running := exec.Command("sleep", "1000")
	running.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	defer running.Process.Kill()
	ct.trackGroup(running.Process.Pid) // prunes
	ct.mu.Lock()
	want := map[int]bool{lingering: true, running.Process.Pid: false}
	if !maps.Equal(ct.groups, want) {
		t.Errorf("tracked %v, want %v (the reused id forgotten)", ct.groups, want)
	}
	ct.groups[other.Process.Pid] = true // as if it ended after the pruning
	ct.mu.Unlock()

	ct.killGroups()
	// Ended by our SIGTERM, not by a SIGKILL of killGroups' that came first.
	other.Process.Signal(syscall.SIGTERM)
	other.Wait()
	if ws := other.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("the unrelated group's sleep: %v, want terminated by the test's SIGTERM (not killed)", other.ProcessState)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st := procState(member); st == "gone" || st == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lingering group's sleep (pid %d) still runs after killGroups", member)
		}
	}
	running.Wait()
	if ws := running.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the running session's group: %v, want killed", running.ProcessState)
	}
}

// goroutineStacks returns every goroutine's stack by its id.
func goroutineStacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := make(map[string]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, "\n")
		id, _, _ := strings.Cut(strings.TrimPrefix(head, "goroutine "), " ")
		stacks[id] = g
	}
	return stacks
}

// newGoroutines returns the stacks of the goroutines of this package that
// are not in base: those the code under test started, and its caller's.
func newGoroutines(base map[string]string) []string {
	var added []string
	for id, g := range goroutineStacks() {
		if _, ok := base[id]; !ok && strings.Contains(g, "porthole/localrt.") {
			added = append(added, g)
		}
	}
	return added
}
