package localrt

import (
	"errors"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
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
//
// Once the server's descriptor table is large (a process's stdio gets
// descriptor numbers from helperAt up), processes start through the spawn
// helper instead (see spawnhelper_linux.go), which the spawner's thread
// starts, and so the same Pdeathsig chain holds.
type spawner struct {
	reqs     chan spawnReq
	quit     chan struct{}
	done     chan struct{}
	helperAt int // <0: never use the helper; 0 or 1: always

	// helperIdle is how long a helper with no process is kept before it
	// is retired (a later start at a high descriptor count starts another).
	helperIdle time.Duration

	hmu        sync.Mutex
	helper     *spawnHelper
	helperDown bool        // it could not start, or the spawner stopped: spawn directly
	retire     *time.Timer // pending retirement of an idle helper
	retiring   sync.WaitGroup
}

// defaultHelperIdle keeps an idle helper through bursts of short sessions
// and lets it go when the server is quiet again.
const defaultHelperIdle = 10 * time.Second

type spawnReq struct {
	fn  func() error
	err chan error
}

// spawned is a process a spawner started.
type spawned struct {
	pid int
	// pidfd is the helper's pidfd for the process, for its receiver to
	// close; -1: none (the process is our child: open one when needed).
	pidfd int
	// status delivers the exit status of a helper's process (the helper
	// is its parent and reaps it); nil for our own child.
	status <-chan syscall.WaitStatus
}

// takePidfd returns the pidfd (or -1) and leaves none behind.
func (s *spawned) takePidfd() int {
	fd := s.pidfd
	s.pidfd = -1
	return fd
}

// helperStdioFD is the default helperAt. Measured on a 2-core VM
// (BenchmarkExecTrueHoldingDescriptors): a direct exec of `true` costs
// about 0.08 ms more per 1,000 descriptors held (2.2 ms with none, 3.7 ms
// with 19,000); through the helper it costs 2.4 ms whatever the server
// holds (two more process wakeups each start). They cross near 3,000.
const helperStdioFD = 4096

func newSpawner(helperAt int) *spawner {
	s := &spawner{reqs: make(chan spawnReq), quit: make(chan struct{}), done: make(chan struct{}), helperAt: helperAt, helperIdle: defaultHelperIdle}
	go s.run()
	return s
}

func (s *spawner) run() {
	defer close(s.done)
	runtime.LockOSThread() // never unlocked: see spawner
	for {
		select {
		case req := <-s.reqs:
			req.err <- req.fn()
		case <-s.quit:
			return
		}
	}
}

// onThread runs fn on the spawner's thread.
func (s *spawner) onThread(fn func() error) error {
	req := spawnReq{fn: fn, err: make(chan error, 1)}
	select {
	case s.reqs <- req:
		return <-req.err
	case <-s.done:
		return errSpawnerStopped
	}
}

// start starts cmd, whose stdio are files or nil, with Pdeathsig set: from
// the spawner's thread, or through the spawn helper.
func (s *spawner) start(cmd *exec.Cmd) (spawned, error) {
	if h := s.helperFor(cmd); h != nil {
		st, err := h.spawn(cmd)
		h.release()
		if !errors.Is(err, errHelperGone) && !errors.Is(err, errTooBig) {
			return st, err
		}
		// Not started (or killed with the helper): start it ourselves.
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setParentDeathSignal(cmd.SysProcAttr)
	if err := s.onThread(cmd.Start); err != nil {
		return spawned{}, err
	}
	return spawned{pid: cmd.Process.Pid, pidfd: -1}, nil
}

// helperFor returns the helper to start cmd with, acquired (release it
// after the start), starting one if there is none; nil: start cmd
// directly.
func (s *spawner) helperFor(cmd *exec.Cmd) *spawnHelper {
	if s.helperAt < 0 || s.helperAt > 1 && highestStdioFD(cmd) < s.helperAt {
		return nil
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.helper == nil && !s.helperDown {
		err := s.onThread(func() error {
			h, err := startSpawnHelper(func(c *exec.Cmd) error {
				c.SysProcAttr = &syscall.SysProcAttr{}
				setParentDeathSignal(c.SysProcAttr)
				return c.Start()
			})
			if err == nil {
				h.onIdle = func() { s.helperIdled(h) }
				s.helper = h
			}
			return err
		})
		s.helperDown = err != nil
	}
	if s.helper != nil {
		s.helper.acquire() // under hmu: retirement cannot come in between
	}
	return s.helper
}

// helperIdled schedules the retirement of h, idle now, after helperIdle.
func (s *spawner) helperIdled(h *spawnHelper) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.helper != h || s.retire != nil {
		return
	}
	s.retiring.Add(1)
	s.retire = time.AfterFunc(s.helperIdle, func() {
		defer s.retiring.Done()
		s.hmu.Lock()
		s.retire = nil
		if s.helper != h || !h.idle() {
			s.hmu.Unlock()
			return
		}
		s.helper = nil
		s.hmu.Unlock()
		h.close() // not under hmu: its reader may be calling helperIdled
	})
}

// current is the running helper, if any.
func (s *spawner) current() *spawnHelper {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return s.helper
}

// stop ends the helper, then the spawner and its thread; call it once no
// process runs.
func (s *spawner) stop() {
	s.hmu.Lock()
	h := s.helper
	s.helper, s.helperDown = nil, true
	if s.retire != nil && s.retire.Stop() {
		s.retiring.Done()
	}
	s.retire = nil
	s.hmu.Unlock()
	s.retiring.Wait()
	if h != nil {
		h.close() // not under hmu: its reader may be calling helperIdled
	}
	close(s.quit)
	<-s.done
}
