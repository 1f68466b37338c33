package harness

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ProcGroup signals the process group a started command leads (it was
// started with Setpgid). The group's id is the leader's pid: once the
// leader is reaped and no member is left, the kernel may give the id to
// a new group (pid_max is 32768 on CI machines, and a CI run starts
// processes by the hundred thousand), and a signal to the group would
// reach strangers: another package's server, the build. So the group is
// signalled only while the leader is unreaped, and what it leaves behind
// is killed at the leader's exit, just before the reap.
type ProcGroup struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	reaped bool
}

// NewProcGroup guards the group of cmd, which has been started.
func NewProcGroup(cmd *exec.Cmd) *ProcGroup { return &ProcGroup{cmd: cmd} }

// Signal sends sig to the group, unless its leader has been reaped.
func (g *ProcGroup) Signal(sig syscall.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.reaped {
		_ = syscall.Kill(-g.cmd.Process.Pid, sig)
	}
}

// Wait waits for the leader to exit, SIGKILLs what is left of its group
// while the leader's zombie holds the id, and reaps the leader with
// cmd.Wait, returning its error.
func (g *ProcGroup) Wait() error {
	pid := g.cmd.Process.Pid
	var info unix.Siginfo
	for {
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
			break
		}
	}
	g.mu.Lock()
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	g.reaped = true
	g.mu.Unlock()
	return g.cmd.Wait()
}

// startHeld starts cmd, whose SysProcAttr is OwnGroup's, from a goroutine
// locked to its OS thread until exited is closed (the process was
// reaped). Pdeathsig fires when the thread that forked the child exits,
// not the test binary, and the Go runtime ends a thread when a goroutine
// locked to it returns, as an in-process localrt's spawner does at its
// Close: a gateway forked earlier from the thread that spawner later
// locked got SIGTERM when the test closed its runtime (and, at Stop's
// SIGTERM, died of the second). A thread held for the child's whole life
// can be ended under it by no one.
func startHeld(cmd *exec.Cmd, exited <-chan struct{}) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread() // the child is reaped by then
		err := cmd.Start()
		started <- err
		if err == nil {
			<-exited
		}
	}()
	return <-started
}

// OwnGroup is the SysProcAttr of a server the tests start: the leader of a
// process group of its own (see ProcGroup), sent SIGTERM when the test
// binary dies (Pdeathsig), so that a test binary killed by its timeout or
// by hand leaves no server (and no pod of one) running: the servers end
// their process trees on SIGTERM.
func OwnGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
