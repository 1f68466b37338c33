package localrt

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"
)

// errSpawnerStopped: a process start after Close (which cannot happen: Close
// joins every caller first).
var errSpawnerStopped = errors.New("process spawner stopped")

// spawner starts every process of a Runtime with Pdeathsig = SIGKILL, so
// that the processes die with the server even when it is killed outright
// (SIGKILL, OOM) and runs no cleanup: a process that neither reads nor
// writes its stdio would otherwise live on as an orphan.
//
// Pdeathsig fires when the *thread* that forked the child exits, not the
// process. The Go runtime ends a thread when a goroutine locked to it
// exits, so a child forked from an arbitrary goroutine could be killed
// whenever any code elsewhere exits a locked goroutine on the thread that
// forked it. Hence one goroutine, locked to its thread for the Runtime's
// life, forks every process; it exits (ending its thread, which kills any
// direct child left) only in Close, after every process was stopped.
//
// Pdeathsig reaches direct children only. Their descendants (a shell's
// background jobs) rely on Close's process-group kill; after a SIGKILL of
// the server they die only through their tty's hangup or a broken pipe.
type spawner struct {
	reqs chan spawnReq
	quit chan struct{}
	done chan struct{}
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *spawner) run() {
	defer close(s.done)
	runtime.LockOSThread() // never unlocked: see spawner
	for {
		select {
		case req := <-s.reqs:
			req.err <- req.cmd.Start()
		case <-s.quit:
			return
		}
	}
}

// start starts cmd from the spawner's thread with Pdeathsig set.
func (s *spawner) start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setParentDeathSignal(cmd.SysProcAttr)
	req := spawnReq{cmd: cmd, err: make(chan error, 1)}
	select {
	case s.reqs <- req:
		return <-req.err
	case <-s.done:
		return errSpawnerStopped
	}
}

// stop ends the spawner and its thread; call it once no process runs.
func (s *spawner) stop() {
	close(s.quit)
	<-s.done
}
