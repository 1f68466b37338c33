package localrt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/resize"
)

// attachHook makes r signal every Attach session in place.
func attachHook(r *Runtime) chan struct{} {
	ch := make(chan struct{}, 8)
	r.onAttach = func() { ch <- struct{}{} }
	return ch
}

func TestAttachTwoAttachersAndStdin(t *testing.T) {
	r := start(t, testPod("p", kube.Container{Command: []string{"cat"}, Stdin: true}, ""))
	attached := attachHook(r)
	waitPod(t, r, "p", "running", isRunning)

	inA, inAW := osPipe(t)
	outA, outB := newLineReader(t), newLineReader(t)
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	go func() {
		doneA <- r.Attach(context.Background(), ref("p", "main"), node.Streams{Stdin: inA, Stdout: outA.pw})
	}()
	<-attached
	go func() { doneB <- r.Attach(ctxB, ref("p", "main"), node.Streams{Stdout: outB.pw}) }()
	<-attached

	inAW.WriteString("hello\n")
	for name, out := range map[string]*lineReader{"A": outA, "B": outB} {
		if got := out.until(t, "hello"); got != "hello\n" {
			t.Errorf("attacher %s: got %q, want %q", name, got, "hello\n")
		}
	}
	// Without stdinOnce, stdin EOF detaches this attacher only.
	inAW.Close()
	if err := <-doneA; err != nil {
		t.Fatalf("Attach A: got %v, want nil", err)
	}
	inC, inCW := osPipe(t)
	doneC := make(chan error, 1)
	go func() { doneC <- r.Attach(context.Background(), ref("p", "main"), node.Streams{Stdin: inC}) }()
	<-attached
	inCW.WriteString("world\n")
	if got := outB.until(t, "world"); got != "world\n" {
		t.Errorf("attacher B: got %q, want %q", got, "world\n")
	}
	inCW.Close()
	if err := <-doneC; err != nil {
		t.Fatalf("Attach C: got %v, want nil", err)
	}
	cancelB()
	if err := <-doneB; err != nil {
		t.Fatalf("Attach B: got %v, want nil", err)
	}
	p, _ := r.Pod(context.Background(), "default", "p")
	if !isRunning(p) || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("after detaching: got %+v, want the container still running, never restarted", p.Status.ContainerStatuses[0])
	}
}

// TestAttachStdinOnce: the first attacher's stdin EOF closes the process's
// stdin; its output keeps coming until the process exits.
func TestAttachStdinOnce(t *testing.T) {
	r := start(t, testPod("p", kube.Container{Command: []string{"sh", "-c", "cat; echo bye"}, Stdin: true, StdinOnce: true}, restartNever))
	waitPod(t, r, "p", "running", isRunning)
	in, inW := osPipe(t)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- r.Attach(context.Background(), ref("p", "main"), node.Streams{Stdin: in, Stdout: &out})
	}()
	inW.WriteString("abc\n")
	inW.Close()
	if err := <-done; err != nil {
		t.Fatalf("Attach: got %v, want nil", err)
	}
	if out.String() != "abc\nbye\n" {
		t.Errorf("got %q, want %q", out.String(), "abc\nbye\n")
	}
	p := waitPod(t, r, "p", "succeeded", func(p *kube.Pod) bool { return p.Status.Phase == phaseSucceeded })
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
		t.Errorf("got state %+v, want terminated 0 Completed", p.Status.ContainerStatuses[0].State)
	}
}

// TestAttachProcessExit: Attach returns nil once the process exited and
// its output (stdout and stderr) was delivered, whatever the exit code.
func TestAttachProcessExit(t *testing.T) {
	r := start(t, testPod("p", kube.Container{Command: []string{"sh", "-c", "read x; echo out; echo err >&2; exit 3"}, Stdin: true}, restartNever))
	attached := attachHook(r)
	waitPod(t, r, "p", "running", isRunning)
	in, inW := osPipe(t)
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- r.Attach(context.Background(), ref("p", "main"), node.Streams{Stdin: in, Stdout: &out, Stderr: &errOut})
	}()
	<-attached
	inW.WriteString("go\n")
	if err := <-done; err != nil {
		t.Fatalf("Attach: got %v, want nil", err)
	}
	if out.String() != "out\n" || errOut.String() != "err\n" {
		t.Errorf("got stdout %q stderr %q, want %q and %q", out.String(), errOut.String(), "out\n", "err\n")
	}
	p := waitPod(t, r, "p", "failed", func(p *kube.Pod) bool { return p.Status.Phase == phaseFailed })
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 3 || term.Reason != "Error" {
		t.Errorf("got state %+v, want terminated 3 Error", p.Status.ContainerStatuses[0].State)
	}
	err := r.Attach(context.Background(), ref("p", "main"), node.Streams{Stdout: &out})
	if !errors.Is(err, node.ErrNotRunning) {
		t.Errorf("attach after exit: got %v, want ErrNotRunning", err)
	}
	if err := r.Attach(context.Background(), ref("p", "nope"), node.Streams{}); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("attach unknown container: got %v, want ErrNotFound", err)
	}
}

func TestAttachTTYResize(t *testing.T) {
	script := `trap 'stty size' WINCH; read x; echo ready; while :; do sleep 0.05; done`
	r := start(t, testPod("p", kube.Container{Command: []string{"sh", "-c", script}, Stdin: true, TTY: true}, ""))
	attached := attachHook(r)
	waitPod(t, r, "p", "running", isRunning)
	in, inW := osPipe(t)
	out := newLineReader(t)
	sizes := make(chan resize.Size)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- r.Attach(ctx, ref("p", "main"), node.Streams{Stdin: in, Stdout: out.pw, TTY: true, Resize: sizes})
	}()
	<-attached
	inW.WriteString("go\n")
	out.until(t, "ready") // the trap is set
	for _, s := range []resize.Size{{Width: 77, Height: 33}, {Width: 100, Height: 40}} {
		sizes <- s
		want := strconv.Itoa(int(s.Height)) + " " + strconv.Itoa(int(s.Width)) + "\r\n"
		if got := out.until(t, " "); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// A second attacher's initial size applies once it is attached.
	out2 := newLineReader(t)
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() {
		done2 <- r.Attach(ctx2, ref("p", "main"), node.Streams{Stdout: out2.pw, TTY: true, Size: resize.Size{Width: 90, Height: 30}})
	}()
	if got := out2.until(t, " "); got != "30 90\r\n" {
		t.Errorf("second attacher: got %q, want %q", got, "30 90\r\n")
	}
	cancel2()
	cancel()
	for _, ch := range []chan error{done, done2} {
		if err := <-ch; err != nil {
			t.Errorf("Attach: got %v, want nil", err)
		}
	}
}

// TestAttachFrozenAttacherIsCut: an attacher that stops reading (a
// terminal nobody reads, a client whose write never returns) holds the
// container's output only for the stall timeout: then it is cut with
// node.ErrStalled, and the other attacher gets every byte, on pipes and on
// a tty.
func TestAttachFrozenAttacherIsCut(t *testing.T) {
	const size = 8 << 20
	script := "read x; head -c " + strconv.Itoa(size) + " /dev/zero | tr '\\0' x; echo; echo END; exec cat >/dev/null"
	for _, tty := range []bool{false, true} {
		t.Run("tty="+strconv.FormatBool(tty), func(t *testing.T) {
			r := startOpts(t, &Options{KillGrace: 2 * time.Second, AttachStallTimeout: 200 * time.Millisecond},
				testPod("p", kube.Container{Command: []string{"sh", "-c", script}, Stdin: true, TTY: tty}, ""))
			attached := attachHook(r)
			waitPod(t, r, "p", "running", isRunning)

			frozenR, frozenW := io.Pipe() // never read until the test ends
			t.Cleanup(func() { frozenR.Close() })
			doneA := make(chan error, 1)
			go func() {
				doneA <- r.Attach(context.Background(), ref("p", "main"), node.Streams{Stdout: frozenW, TTY: tty})
			}()
			<-attached

			inB, inBW := osPipe(t)
			outB := newLineReader(t)
			ctxB, cancelB := context.WithCancel(context.Background())
			defer cancelB()
			doneB := make(chan error, 1)
			go func() {
				doneB <- r.Attach(ctxB, ref("p", "main"), node.Streams{Stdin: inB, Stdout: outB.pw, TTY: tty})
			}()
			<-attached
			counted := make(chan int, 1)
			go func() { counted <- countUntilEnd(outB) }()
			inBW.WriteString("go\n")

			select {
			case err := <-doneA:
				if !errors.Is(err, node.ErrStalled) {
					t.Errorf("frozen attacher: got %v, want an error wrapping node.ErrStalled", err)
				}
			case <-time.After(failsafe):
				t.Fatal("the frozen attacher was never cut")
			}
			select {
			case n := <-counted:
				if n != size {
					t.Errorf("second attacher: got %d bytes of output before END, want %d", n, size)
				}
			case <-time.After(failsafe):
				t.Fatal("the second attacher's output stalled behind the frozen one")
			}
			cancelB()
			if err := <-doneB; err != nil {
				t.Errorf("Attach B: got %v, want nil", err)
			}
			outB.pw.Close()
			p, _ := r.Pod(context.Background(), "default", "p")
			if !isRunning(p) || p.Status.ContainerStatuses[0].RestartCount != 0 {
				t.Errorf("got %+v, want the container still running, never restarted", p.Status.ContainerStatuses[0])
			}
		})
	}
}

// countUntilEnd counts the 'x' bytes read until a line holding END.
func countUntilEnd(l *lineReader) int {
	n := 0
	for {
		line, err := l.br.ReadString('\n')
		if strings.Contains(line, "END") {
			return n
		}
		n += strings.Count(line, "x")
		if err != nil {
			return -1
		}
	}
}

// TestAttachCancelWithWritePending: a session whose client vanished while
// a write to it was pending (the node cancels ctx) ends at once; it does
// not wait for the write, which the node ends by closing the connection
// afterwards. Then the next attacher is served.
func TestAttachCancelWithWritePending(t *testing.T) {
	r := start(t, testPod("p", kube.Container{Command: []string{"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; done"}}, ""))
	attached := attachHook(r)
	waitPod(t, r, "p", "running", isRunning)
	frozen := newFrozenWriter()
	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() { doneA <- r.Attach(ctxA, ref("p", "main"), node.Streams{Stdout: frozen}) }()
	<-attached
	select {
	case <-frozen.entered:
	case <-time.After(failsafe):
		t.Fatal("no output reached the attacher")
	}
	cancelA()
	select {
	case err := <-doneA:
		if err != nil {
			t.Errorf("Attach A: got %v, want nil", err)
		}
	case <-time.After(failsafe):
		t.Fatal("Attach A waited for its pending write after its ctx was cancelled")
	}
	close(frozen.release) // as the node closes the connection

	outB := newLineReader(t)
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	doneB := make(chan error, 1)
	go func() { doneB <- r.Attach(ctxB, ref("p", "main"), node.Streams{Stdout: outB.pw}) }()
	<-attached
	first := atoi(t, outB.until(t, "\n"))
	next := atoi(t, outB.until(t, "\n"))
	if next != first+1 {
		t.Errorf("B: got %d after %d, want consecutive lines", next, first)
	}
	cancelB()
	go outB.discardRest()
	if err := <-doneB; err != nil {
		t.Errorf("Attach B: got %v, want nil", err)
	}
	outB.pw.Close()
}

// frozenWriter is a client that stopped reading: its first Write signals
// entered, and every Write blocks until release is closed, then fails.
type frozenWriter struct {
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func newFrozenWriter() *frozenWriter {
	return &frozenWriter{entered: make(chan struct{}), release: make(chan struct{})}
}

func (f *frozenWriter) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.entered) })
	<-f.release
	return 0, io.ErrClosedPipe
}

// TestAttachDetachDeliversQueued: output the process wrote before it
// exited reaches a slow attacher in full before Attach returns.
func TestAttachDetachDeliversQueued(t *testing.T) {
	const size = 1 << 20
	r := start(t, testPod("p", kube.Container{Command: []string{"sh", "-c", "read x; head -c " + strconv.Itoa(size) + " /dev/zero"}, Stdin: true}, restartNever))
	attached := attachHook(r)
	waitPod(t, r, "p", "running", isRunning)
	in, inW := osPipe(t)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := r.Attach(context.Background(), ref("p", "main"), node.Streams{Stdin: in, Stdout: pw})
		pw.Close()
		done <- err
	}()
	<-attached
	inW.WriteString("go\n")
	n, err := io.Copy(io.Discard, slowReader{pr})
	if err != nil || n != size {
		t.Errorf("got %d bytes (%v), want %d", n, err, size)
	}
	if err := <-done; err != nil {
		t.Errorf("Attach: got %v, want nil", err)
	}
}

// slowReader reads in small pieces, so the attacher's queue fills.
type slowReader struct{ r *io.PipeReader }

func (s slowReader) Read(p []byte) (int, error) {
	if len(p) > 512 {
		p = p[:512]
	}
	return s.r.Read(p)
}
