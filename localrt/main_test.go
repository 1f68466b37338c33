package localrt

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(orphanHelperEnv); dir != "" {
		runOrphanHelper(dir)
	}
	goleak.VerifyTestMain(m)
}

// viaHelper runs the whole suite with every process started through the
// spawn helper (go test ./localrt -args -spawn-helper), as a server holding
// many descriptors does.
var viaHelper = flag.Bool("spawn-helper", false, "start every process through the spawn helper")

// failsafe bounds every wait for an event, so a broken runtime fails the
// test instead of hanging it. It orders nothing.
const failsafe = 20 * time.Second

// testPod is a one-container pod.
func testPod(name string, c kube.Container, policy string) *kube.Pod {
	if c.Name == "" {
		c.Name = "main"
	}
	return &kube.Pod{
		ObjectMeta: kube.ObjectMeta{Name: name},
		Spec:       kube.PodSpec{Containers: []kube.Container{c}, RestartPolicy: policy},
	}
}

// start returns a started Runtime for pods, closed at the end of the test.
func start(t testing.TB, pods ...*kube.Pod) *Runtime {
	t.Helper()
	return startOpts(t, &Options{KillGrace: 2 * time.Second}, pods...)
}

// startOpts is start with options. Output draining after an exit never
// relies on the idle grace (an hour here) unless a test asks with
// startDrain: a process that exited leaves no pipe open behind it.
func startOpts(t testing.TB, opts *Options, pods ...*kube.Pod) *Runtime {
	t.Helper()
	return startDrain(t, opts, time.Hour, pods...)
}

func startDrain(t testing.TB, opts *Options, grace time.Duration, pods ...*kube.Pod) *Runtime {
	t.Helper()
	r, err := New(pods, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.drainGrace = grace
	if *viaHelper {
		r.helperAt = 0
	}
	r.backoff = backoffPolicy{initial: time.Millisecond, max: 4 * time.Millisecond, reset: time.Minute}
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// waitPod waits until cond holds for the pod's status.
func waitPod(t testing.TB, r *Runtime, name string, what string, cond func(*kube.Pod) bool) *kube.Pod {
	t.Helper()
	deadline := time.NewTimer(failsafe)
	defer deadline.Stop()
	for {
		ch := r.changes()
		p, err := r.Pod(context.Background(), "default", name)
		if err != nil {
			t.Fatalf("Pod: %v", err)
		}
		if cond(p) {
			return p
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("pod %s: never %s; status %+v", name, what, p.Status)
		}
	}
}

func isRunning(p *kube.Pod) bool {
	return p.Status.Phase == phaseRunning && p.Status.ContainerStatuses[0].State.Running != nil
}

func ref(pod, ctr string) node.Container {
	return node.Container{PodRef: node.PodRef{Namespace: "default", Name: pod}, Name: ctr}
}

// lineReader reads an output stream line by line in the test goroutine.
// It is an OS pipe, so small writes do not wait for the test to read.
type lineReader struct {
	pr, pw *os.File
	br     *bufio.Reader
}

func newLineReader(t testing.TB) *lineReader {
	pr, pw := osPipe(t)
	return &lineReader{pr: pr, pw: pw, br: bufio.NewReader(pr)}
}

// until reads lines until one contains s, and returns it.
func (l *lineReader) until(t testing.TB, s string) string {
	t.Helper()
	for {
		line, err := l.br.ReadString('\n')
		if strings.Contains(line, s) {
			return line
		}
		if err != nil {
			t.Fatalf("reading for %q: %v", s, err)
		}
	}
}

// discardRest drains the stream until its writer closes.
func (l *lineReader) discardRest() { io.Copy(io.Discard, l.pr) }

// waitGone waits for process pid to have exited (zombies count as gone),
// with a pidfd, which becomes readable when the process terminates.
func waitGone(t testing.TB, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(failsafe/time.Millisecond))
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		if n == 0 {
			t.Fatalf("process %d still alive: %s", pid, procState(pid))
		}
		return
	}
}

// procState is the state letter of pid from /proc, or "gone".
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "gone"
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return s
	}
	return s[i+2 : i+3]
}

// osPipe is a stdin like the node's: an *os.File pipe the test feeds.
func osPipe(t testing.TB) (*os.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	return pr, pw
}
