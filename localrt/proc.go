package localrt

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ExitError is a process's non-zero exit. For a process killed by a signal,
// Code is 128+signal, as container runtimes report it.
type ExitError struct {
	Code   int
	Signal syscall.Signal // 0 unless killed by a signal
}

func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("command terminated by signal %d (%s): exit code %d", int(e.Signal), e.Signal, e.Code)
	}
	return fmt.Sprintf("command terminated with exit code %d", e.Code)
}

// ExitCode is the code node.Runtime callers read.
func (e *ExitError) ExitCode() int { return e.Code }

// process is a started process leading its own process group, reaped by
// its own waiter goroutine. Whoever starts one must eventually receive
// from done (that joins the waiter).
type process struct {
	cmd   *exec.Cmd
	pgid  int
	start time.Time
	done  chan struct{} // closed once reaped; state (or status) is set before
	state *os.ProcessState
	// byPid: Go's handle was released (unwatchedProcess) and reap waits
	// for the pid itself; status is the exit status then, state nil.
	byPid  bool
	status syscall.WaitStatus
	// helped: the spawn helper is the process's parent and reports its
	// status here; reap takes it from there (status, as byPid).
	helped <-chan syscall.WaitStatus

	// mu orders signals before the reap. Once the leader is reaped, its
	// pid, the group's id, is free: with no member left the kernel may
	// give it to a new process group (this machine's pid_max is 32768),
	// and a signal to the group would reach strangers: another server,
	// the build. So the group is signalled only while reaped is false,
	// and what must die with the leader dies just before the reap.
	mu     sync.Mutex
	reaped bool
	// killOnExit: the group (and, for a session leader, its session) is
	// killed at the leader's exit, before its reap: a container's
	// processes die with its main process, and nothing outlives a
	// stopped process.
	killOnExit bool
}

// newProcess tracks cmd, which st is and which has been started with
// Setpgid or Setsid; killOnExit kills its group with its leader.
func newProcess(cmd *exec.Cmd, st *spawned, killOnExit bool) *process {
	p := &process{cmd: cmd, pgid: st.pid, start: time.Now(), done: make(chan struct{}), killOnExit: killOnExit}
	closePidfd(st.takePidfd())
	if st.status != nil {
		p.byPid, p.helped = true, st.status
	}
	go p.wait()
	return p
}

// unwatchedProcess tracks cmd as newProcess does, without the waiter
// goroutine: its owner learns of the exit otherwise (a pidfd of its own)
// and calls reap. Go's handle of the process (a second pidfd, where Go
// uses one) is released at once, one descriptor less per exec: reap
// waits for the pid instead, which stays the process's until it is
// reaped. Signals go to the process group, by id, as ever.
func unwatchedProcess(cmd *exec.Cmd, st *spawned) *process {
	p := &process{cmd: cmd, pgid: st.pid, start: time.Now(), done: make(chan struct{}), byPid: true}
	closePidfd(st.takePidfd())
	if st.status != nil {
		p.helped = st.status
	} else {
		_ = cmd.Process.Release()
	}
	return p
}

func (p *process) wait() {
	if p.helped == nil {
		waitExit(p.pgid)
	}
	p.reap()
}

// reap collects the exit status (blocking until the process exits) and
// closes done. Our own child's group is killed first when killOnExit
// says so, while its zombie still holds the group's id; after the reap
// nothing signals the group. (A helped process is reaped by the helper:
// the window between its reap and a signal stays.)
func (p *process) reap() {
	p.mu.Lock()
	if p.helped == nil {
		if p.killOnExit {
			p.killGroupLocked()
		}
		p.reaped = true
	}
	p.mu.Unlock()
	if p.helped != nil {
		p.status = <-p.helped
		close(p.done)
		return
	}
	if p.byPid {
		p.status = waitPid(p.pgid)
		close(p.done)
		return
	}
	p.cmd.Wait() // the exit status is in ProcessState; stdio are plain files, so nothing else can fail
	p.state = p.cmd.ProcessState
	close(p.done)
}

// waitPid reaps pid, a child of this process, and returns its status.
func waitPid(pid int) syscall.WaitStatus {
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			return ws
		}
	}
}

// signalGroup sends sig to the whole process group, unless its leader
// has been reaped: the group's id, the leader's pid, is then free for
// reuse (see mu).
func (p *process) signalGroup(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		syscall.Kill(-p.pgid, sig) // ESRCH: the group is gone already
	}
}

// killGroupLocked SIGKILLs the group and, for a terminal's process, its
// session (jobs in groups of their own). p.mu is held and the leader not
// reaped.
func (p *process) killGroupLocked() {
	syscall.Kill(-p.pgid, syscall.SIGKILL)
	if a := p.cmd.SysProcAttr; a != nil && a.Setsid {
		killSession(p.pgid)
	}
}

// stop signals the group with sig, escalates to SIGKILL after grace (or
// once hurry closes) and waits for the leader to be reaped; what is left
// of the group (members that ignored sig) and of a terminal's session
// dies just before the reap, so nothing outlives a stopped process. A
// process already reaped is not signalled. stop returns once done is
// closed.
func (p *process) stop(sig syscall.Signal, grace time.Duration, hurry <-chan struct{}) {
	p.mu.Lock()
	p.killOnExit = true
	reaped := p.reaped
	if !reaped {
		syscall.Kill(-p.pgid, sig)
	}
	helped := p.helped != nil
	p.mu.Unlock()
	if reaped { // being reaped: done closes once the status is in
		<-p.done
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.signalGroup(syscall.SIGKILL)
		<-p.done
	case <-hurry:
		p.signalGroup(syscall.SIGKILL)
		<-p.done
	}
	if helped {
		// The helper reaped it: the group's id may be free already, as
		// it was before (see reap).
		syscall.Kill(-p.pgid, syscall.SIGKILL)
		if a := p.cmd.SysProcAttr; a != nil && a.Setsid {
			killSession(p.pgid)
		}
	}
}

// exit returns the ExitError for the reaped process, nil for status 0.
func (p *process) exit() *ExitError {
	ws := p.status
	if !p.byPid {
		var ok bool
		if ws, ok = p.state.Sys().(syscall.WaitStatus); !ok {
			return &ExitError{Code: p.state.ExitCode()}
		}
	}
	switch {
	case ws.Signaled():
		return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	case ws.ExitStatus() != 0:
		return &ExitError{Code: ws.ExitStatus()}
	}
	return nil
}

// groupAlive reports whether process group pgid still has members.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

// idReused reports whether a process now has pid pgid, the id of a group
// whose leader was reaped. The kernel hands out no id a live group still
// uses, so the group has ended and the id names someone else's process,
// or soon its group.
func idReused(pgid int) bool {
	return syscall.Kill(pgid, 0) != syscall.ESRCH
}
