package initproc

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

const supported = true

// Run starts path with args and env (less Env) as its only child, then
// reaps every process that ends up its child and forwards the signals it
// gets to that one, until it exits; it returns its exit code. Not as PID
// 1, it first makes itself its descendants' subreaper, and on a terminal
// it stops when the child stops, so that a shell's job control sees it.
// An error: the child could not start, and nothing runs.
func Run(path string, args, env []string) (int, error) {
	// The child's Pdeathsig fires when the thread that started it ends:
	// this one, locked and never unlocked, ends with the process.
	runtime.LockOSThread()
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return 0, fmt.Errorf("init: become a subreaper: %w", err)
		}
	}
	// Every signal, from before the child exists: none is lost, and none
	// ends the init with its default action.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	sys := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pg, ttyErr := unix.IoctlGetInt(0, unix.TIOCGPGRP) // fails unless fd 0 is our controlling terminal
	if ttyErr == nil && pg == unix.Getpgrp() {
		// The terminal's keys (Ctrl-C, Ctrl-Z) then reach the child alone,
		// not the child and, forwarded, again.
		sys.Foreground, sys.Ctty = true, 0
	}
	child, err := syscall.ForkExec(path, args, &syscall.ProcAttr{Env: childEnv(env), Files: []uintptr{0, 1, 2}, Sys: sys})
	if err != nil {
		return 0, fmt.Errorf("init: start %s: %w", path, err)
	}
	// Under a shell's job control (not PID 1, on a terminal), the init
	// is the job: a stop of the child stops it, and the shell's SIGCONT
	// hands the terminal back to the child with the signal (see handOver).
	// SIGTTOU is ignored, so that a hand-over the shell raced fails rather
	// than raise it; only now, so that the child does not inherit that.
	jobs := os.Getpid() != 1 && ttyErr == nil
	if jobs {
		signal.Ignore(syscall.SIGTTOU)
	}
	for {
		code, ended, stopped := reap(child, jobs)
		if ended {
			return code, nil
		}
		if stopped {
			// The shell that waits for the init sees the job stopped, and
			// takes the terminal back.
			syscall.Kill(os.Getpid(), syscall.SIGSTOP)
			continue
		}
		s, ok := (<-sigs).(syscall.Signal)
		if ok && s == syscall.SIGCONT && jobs {
			handOver(child)
		}
		if ok && forwarded(s) {
			syscall.Kill(child, s) // ESRCH: it just ended, and reap sees that
		}
	}
}

// reap collects every child that has ended, and reports whether child is
// among them, with its exit code; with jobs, also whether child stopped.
func reap(child int, jobs bool) (code int, ended, stopped bool) {
	if jobs {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(child, &ws, syscall.WNOHANG|syscall.WUNTRACED, nil)
		switch {
		case err != nil || pid != child:
		case ws.Stopped():
			stopped = true
		default:
			code, ended = exitCode(ws.Exited(), ws.ExitStatus(), int(ws.Signal())), true
		}
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 { // none has ended (0), or none is left (ECHILD)
			return code, ended, stopped && !ended
		}
		if pid == child {
			code, ended = exitCode(ws.Exited(), ws.ExitStatus(), int(ws.Signal())), true
		}
	}
}

// handOver gives the terminal to the child's group when the shell gave it
// to the init's (fg), as the shell would have without an init between.
func handOver(child int) {
	if foreground() {
		unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, child) // its group's id is its pid
	}
}

// forwarded tells the signals meant for the child from the init's own:
// SIGCHLD (it reaps on every signal), SIGURG (the Go runtime preempts
// with it), SIGPIPE, SIGTTIN and SIGTTOU (the terminal's, to the init as a
// background process).
func forwarded(s syscall.Signal) bool {
	switch s {
	case syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPIPE, syscall.SIGTTIN, syscall.SIGTTOU:
		return false
	}
	return true
}

// foreground reports whether standard input is this process's controlling
// terminal and its group is the terminal's foreground group.
func foreground() bool {
	pg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pg == unix.Getpgrp()
}
