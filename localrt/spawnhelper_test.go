package localrt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt/internal/spawnhelper"
	"github.com/porthole/porthole/node"
)

// startHelperAt starts a one-pod Runtime (pod "p") that uses the spawn
// helper from stdio descriptor at up (<0: never).
func startHelperAt(t *testing.T, at int, env ...kube.EnvVar) *Runtime {
	t.Helper()
	r, err := New([]*kube.Pod{testPod("p", kube.Container{Env: env}, "")}, &Options{KillGrace: 2e9})
	if err != nil {
		t.Fatal(err)
	}
	r.helperAt = at
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	waitPod(t, r, "p", "running", isRunning)
	return r
}

// parentOfExec runs `echo $PPID` in pod p and returns the parent's pid.
func parentOfExec(t *testing.T, r *Runtime, tty bool) int {
	t.Helper()
	var out bytes.Buffer
	if err := r.Exec(context.Background(), ref("p", "main"), []string{"sh", "-c", "echo $PPID"}, node.Streams{Stdout: &out, TTY: tty}); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	ppid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	return ppid
}

// TestSpawnHelperSameOutcomes: a process started through the helper is one
// the helper parents, and its outputs, exit status, terminal, environment
// and start errors are those of a process started directly.
func TestSpawnHelperSameOutcomes(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		stdout, stderr string
		err            string
		code           int
	}
	run := func(t *testing.T, r *Runtime, argv []string, tty bool) outcome {
		var o, e bytes.Buffer
		s := node.Streams{Stdout: &o, Stderr: &e, TTY: tty}
		if tty {
			s.Stderr = nil
		}
		err := r.Exec(context.Background(), ref("p", "main"), argv, s)
		got := outcome{stdout: o.String(), stderr: e.String()}
		var ee *ExitError
		switch {
		case errors.As(err, &ee):
			got.code = ee.Code
		case err != nil:
			got.err = err.Error()
		}
		return got
	}
	cases := []struct {
		name string
		argv []string
		tty  bool
	}{
		{"pipes", []string{"sh", "-c", `echo out; echo err >&2; echo "$FOO"; exit 7`}, false},
		{"stdin is /dev/null", []string{"sh", "-c", "cat; echo end"}, false},
		{"tty", []string{"sh", "-c", `tty | cut -c1-9; echo "$FOO"; exit 3`}, true},
		{"signal", []string{"sh", "-c", "kill -9 $$"}, false},
		{"descriptors", []string{"sh", "-c", "ls /proc/$$/fd"}, false},
		{"not executable", []string{notExec}, false},
		{"directory", []string{"/"}, true},
	}
	foo := kube.EnvVar{Name: "FOO", Value: "bar baz"}
	direct, helped := startHelperAt(t, -1, foo), startHelperAt(t, 0, foo)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			want, got := run(t, direct, tt.argv, tt.tty), run(t, helped, tt.argv, tt.tty)
			if got != want {
				t.Errorf("through the helper %+v, directly %+v", got, want)
			}
			if want == (outcome{}) {
				t.Errorf("no outcome at all: the case tests nothing")
			}
		})
	}
	for _, tty := range []bool{false, true} {
		if ppid := parentOfExec(t, direct, tty); ppid != os.Getpid() {
			t.Errorf("direct, tty %v: parent %d, want this process %d", tty, ppid, os.Getpid())
		}
		if ppid, h := parentOfExec(t, helped, tty), helped.spawn.current().proc.Process.Pid; ppid != h {
			t.Errorf("helped, tty %v: parent %d, want the helper %d", tty, ppid, h)
		}
	}
}

// TestSpawnHelperTakesOverWhenTheTableGrows: a process starts directly
// while the server's descriptors are few, through the helper once they
// are many, and directly again when they are few. (A threshold of 256
// rather than the default: the open-file limit may be 4,096.)
func TestSpawnHelperTakesOverWhenTheTableGrows(t *testing.T) {
	const at = 256
	r := startHelperAt(t, at)
	if ppid := parentOfExec(t, r, false); ppid != os.Getpid() {
		t.Fatalf("few descriptors: parent %d, want this process %d", ppid, os.Getpid())
	}
	var held []*os.File
	for len(held) < at+64 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
	}
	ppid := parentOfExec(t, r, false)
	if h := r.spawn.current(); h == nil || ppid != h.proc.Process.Pid {
		t.Errorf("many descriptors: parent %d, want the spawn helper", ppid)
	}
	closeAll(held)
	if ppid := parentOfExec(t, r, true); ppid != os.Getpid() {
		t.Errorf("few again: parent %d, want this process %d", ppid, os.Getpid())
	}
}

// TestSpawnHelperDies: the processes of a helper that dies are reported
// killed (they die with it) and later processes start directly.
func TestSpawnHelperDies(t *testing.T) {
	r := startHelperAt(t, 0)
	lr := newLineReader(t)
	done := make(chan error, 1)
	go func() {
		done <- r.Exec(context.Background(), ref("p", "main"), []string{"sh", "-c", "echo $$; exec sleep 100000"}, node.Streams{Stdout: lr.pw})
	}()
	pid, err := strconv.Atoi(strings.TrimSpace(lr.until(t, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	h := r.spawn.current()
	if ppid := parentOf(t, pid); ppid != h.proc.Process.Pid {
		t.Fatalf("parent %d, want the helper %d", ppid, h.proc.Process.Pid)
	}
	before := waitPod(t, r, "p", "running", isRunning).Status.ContainerStatuses[0].RestartCount
	h.proc.Process.Signal(syscall.SIGKILL)
	var ee *ExitError
	if err := <-done; !errors.As(err, &ee) || ee.Code != 137 {
		t.Fatalf("Exec: %v, want exit code 137", err)
	}
	waitGone(t, pid)
	hpid := h.proc.Process.Pid
	for deadline := time.Now().Add(failsafe); procState(hpid) != "gone"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the dead helper %d was never reaped: %s", hpid, procState(hpid))
		}
	}
	// Its main process died too. Running is not enough: the runtime may
	// not have seen that death yet, and then an exec meets the restart.
	waitPod(t, r, "p", "running again", func(p *kube.Pod) bool {
		return isRunning(p) && p.Status.ContainerStatuses[0].RestartCount > before
	})
	if ppid := parentOfExec(t, r, false); ppid != os.Getpid() {
		t.Errorf("after the helper died: parent %d, want this process %d", ppid, os.Getpid())
	}
}

// TestSpawnHelperFallsBackForLargeCommands: a command whose environment
// does not fit one request starts directly, whole.
func TestSpawnHelperFallsBackForLargeCommands(t *testing.T) {
	// Two variables: one string may not exceed 128 KiB (MAX_ARG_STRLEN).
	big := strings.Repeat("x", spawnhelper.MaxRequest*5/8)
	r := startHelperAt(t, 0, kube.EnvVar{Name: "BIG1", Value: big}, kube.EnvVar{Name: "BIG2", Value: big})
	var out bytes.Buffer
	err := r.Exec(context.Background(), ref("p", "main"), []string{"sh", "-c", `echo $PPID; printf %s "$BIG1$BIG2" | wc -c`}, node.Streams{Stdout: &out})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	want := strconv.Itoa(os.Getpid()) + "\n" + strconv.Itoa(2*len(big)) + "\n"
	if strings.ReplaceAll(out.String(), " ", "") != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestSpawnHelperIgnoresNonsense: a malformed request gets an error reply
// for no one, and the helper serves the next one.
func TestSpawnHelperIgnoresNonsense(t *testing.T) {
	r := startHelperAt(t, 0)
	parentOfExec(t, r, false) // the helper is up
	h := r.spawn.current()
	if _, _, err := h.conn.WriteMsgUnix([]byte("{not json"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if ppid := parentOfExec(t, r, false); ppid != h.proc.Process.Pid {
		t.Errorf("parent %d, want the helper %d", ppid, h.proc.Process.Pid)
	}
}

// TestSpawnHelperAtSetting: Options.SpawnHelperAt, else the environment,
// else the default; a bad environment value is an error naming it.
func TestSpawnHelperAtSetting(t *testing.T) {
	tests := []struct {
		opt     int
		env     string
		want    int
		wantErr bool
	}{
		{0, "", helperStdioFD, false},
		{0, "1", 1, false},
		{0, "-1", -1, false},
		{0, "8192", 8192, false},
		{100, "1", 100, false},
		{-1, "1", -1, false},
		{0, "0", 0, true},
		{0, "many", 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("opt=%d/env=%q", tt.opt, tt.env), func(t *testing.T) {
			t.Setenv(SpawnHelperAtEnv, tt.env)
			r, err := New(nil, &Options{SpawnHelperAt: tt.opt})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), SpawnHelperAtEnv) {
					t.Fatalf("got %v, want an error naming %s", err, SpawnHelperAtEnv)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.helperAt != tt.want {
				t.Errorf("helperAt %d, want %d", r.helperAt, tt.want)
			}
		})
	}
}

// TestSpawnHelperRetiresWhenIdle: a helper with no process left goes away
// after the idle time (its process reaped, its reader ended: goleak checks
// at exit), and the next start that needs one starts another.
func TestSpawnHelperRetiresWhenIdle(t *testing.T) {
	r := startHelperAt(t, 0)
	r.spawn.hmu.Lock()
	r.spawn.helperIdle = 50 * time.Millisecond
	r.spawn.hmu.Unlock()
	// The pod's main process keeps the first helper busy.
	first := r.spawn.current()
	if first == nil {
		t.Fatal("no helper after the pod started through one")
	}
	if ppid := parentOfExec(t, r, false); ppid != first.proc.Process.Pid {
		t.Fatalf("parent %d, want the helper %d", ppid, first.proc.Process.Pid)
	}
	time.Sleep(200 * time.Millisecond)
	if r.spawn.current() != first {
		t.Fatal("the helper was retired while the pod's main process runs through it")
	}
	if err := r.RemovePod("default", "p"); err != nil {
		t.Fatalf("RemovePod: %v", err)
	}
	pid := first.proc.Process.Pid
	for deadline := time.Now().Add(failsafe); r.spawn.current() != nil || procState(pid) != "gone"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("an idle helper was not retired: current %p, process %d %s", r.spawn.current(), pid, procState(pid))
		}
	}
	if err := r.AddPod(testPod("p", kube.Container{}, "")); err != nil {
		t.Fatalf("AddPod: %v", err)
	}
	waitPod(t, r, "p", "running", isRunning)
	second := r.spawn.current()
	if second == nil || second == first {
		t.Fatalf("no new helper for the new pod")
	}
	if ppid := parentOfExec(t, r, true); ppid != second.proc.Process.Pid {
		t.Errorf("parent %d, want the new helper %d", ppid, second.proc.Process.Pid)
	}
}

// TestSpawnHelperFrozen: a helper that stops answering (SIGSTOP) is killed
// after the reply timeout and the start goes direct, whole.
func TestSpawnHelperFrozen(t *testing.T) {
	// The pod's main process starts directly: started through the helper,
	// it would die with the helper (Pdeathsig) and take the container's
	// exec with it, as a container's processes die with its main one.
	r := startHelperAt(t, -1)
	r.spawn.helperAt = 0 // from now on, every start goes through the helper
	parentOfExec(t, r, false)
	h := r.spawn.current()
	if h == nil {
		t.Fatal("no helper after a start at helperAt 0")
	}
	h.mu.Lock()
	h.replyTimeout = 100 * time.Millisecond
	h.mu.Unlock()
	if err := h.proc.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The stop is not at once: one of the helper's threads takes the
	// signal and stops the others, and until it runs, another can still
	// take a request (seen under load: the start then went through the
	// helper and died with it).
	for deadline := time.Now().Add(failsafe); !threadsStopped(h.proc.Process.Pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the helper did not stop")
		}
	}
	if ppid := parentOfExec(t, r, false); ppid != os.Getpid() {
		t.Errorf("parent %d, want this process %d (a direct start)", ppid, os.Getpid())
	}
	hpid := h.proc.Process.Pid
	for deadline := time.Now().Add(failsafe); procState(hpid) != "gone"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the frozen helper %d is still there: %s", hpid, procState(hpid))
		}
	}
}

// threadsStopped reports whether every thread of process pid is stopped.
func threadsStopped(pid int) bool {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil || procState(tid) != "T" {
			return false
		}
	}
	return true
}
