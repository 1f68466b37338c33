package localrt

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/localrt/internal/spawnhelper"
)

// The spawn helper is a second process, this same executable, that starts
// processes for a Runtime whose own descriptor table has grown large.
//
// Why: fork copies the parent's whole descriptor table and exec then
// closes every close-on-exec entry of the copy, so starting a process
// costs time in proportion to the descriptors the server holds: about
// 0.08 ms per 1,000 (BenchmarkExecTrueHoldingDescriptors: an exec of
// `true` took 2.2 ms with none held, 3.7 ms with 19,000, as a server
// holding 3,900 sessions does). The helper's own table stays a handful:
// it inherits none of the server's descriptors, receives only each
// process's three stdio ones (SCM_RIGHTS over a socketpair), forks from
// its table and answers with the pid and a pidfd. It costs about 0.2 ms a
// process more than a direct start from a small table (two more process
// wakeups), so the spawner uses it only from helperStdioFD descriptors on,
// and starts it the first time.
//
// The helper is the processes' parent: it reaps them and reports each exit
// status, which the Runtime delivers to the process's waiter in place of
// its own waitpid. Each process gets Pdeathsig from the helper's thread and
// the helper gets it from the spawner's, so a killed server still takes
// every process with it. A helper that dies takes its processes too (they
// are reported killed) and the Runtime spawns directly from then on.

// errHelperGone: the helper died (or the Runtime closed it) before it
// answered; the process, if it was started, was killed with it.
var errHelperGone = errors.New("spawn helper gone")

// spawnHelper is the Runtime's side of a running helper.
type spawnHelper struct {
	proc *exec.Cmd
	conn *net.UnixConn
	done chan struct{} // the reader ended
	// replyTimeout bounds the wait for a start's reply; then the helper
	// is killed and the start goes direct.
	replyTimeout time.Duration

	// onIdle, when set, is called (from any goroutine, no lock held) each
	// time the helper has no process and no start in progress any more.
	onIdle func()

	mu       sync.Mutex
	nextID   uint64
	replies  map[uint64]chan helperReply
	children map[int]chan syscall.WaitStatus
	users    int // starts in progress (acquire to release)
	gone     bool
}

// acquire marks a start in progress: the helper is not idle until release.
func (h *spawnHelper) acquire() {
	h.mu.Lock()
	h.users++
	h.mu.Unlock()
}

func (h *spawnHelper) release() {
	h.mu.Lock()
	h.users--
	idle := h.idleLocked()
	h.mu.Unlock()
	if idle && h.onIdle != nil {
		h.onIdle()
	}
}

// idle reports whether the helper has no process and no start in progress.
func (h *spawnHelper) idle() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.idleLocked()
}

func (h *spawnHelper) idleLocked() bool {
	return h.users == 0 && len(h.children) == 0 && !h.gone
}

type helperReply struct {
	msg    spawnhelper.Msg
	pidfd  int
	status chan syscall.WaitStatus // the process's exit, when it started
}

// startSpawnHelper starts a helper with start (the spawner's, for
// Pdeathsig) and returns its client.
func startSpawnHelper(start func(*exec.Cmd) error) (*spawnHelper, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawn helper socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "spawn-helper"), os.NewFile(uintptr(pair[1]), "spawn-helper-child")
	defer theirs.Close()
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("spawn helper socket: %w", err)
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"porthole-spawn-helper"},
		Env:        []string{spawnhelper.Env + "=1", "GOMAXPROCS=2"},
		Dir:        "/",
		ExtraFiles: []*os.File{theirs},
		Stderr:     os.Stderr,
	}
	if err := start(cmd); err != nil {
		c.Close()
		return nil, fmt.Errorf("start spawn helper: %w", err)
	}
	conn := c.(*net.UnixConn)
	if err := awaitReady(conn); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		conn.Close()
		return nil, fmt.Errorf("spawn helper: %w", err)
	}
	h := &spawnHelper{
		proc:         cmd,
		conn:         conn,
		replyTimeout: helperReplyTimeout,
		done:         make(chan struct{}),
		replies:      make(map[uint64]chan helperReply),
		children:     make(map[int]chan syscall.WaitStatus),
	}
	go h.read()
	return h, nil
}

// helperReplyTimeout bounds a start through the helper: its fork and
// exec take milliseconds.
const helperReplyTimeout = 10 * time.Second

// helperStartTimeout bounds a helper's start: an executable that does not
// answer as a helper (see init) is not one, and processes start directly.
const helperStartTimeout = 10 * time.Second

// awaitReady reads the helper's first words.
func awaitReady(conn *net.UnixConn) error {
	conn.SetReadDeadline(time.Now().Add(helperStartTimeout))
	defer conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 64)
	n, _, _, _, err := conn.ReadMsgUnix(buf, nil)
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	var m spawnhelper.Msg
	if json.Unmarshal(buf[:n], &m) != nil || !m.Ready {
		return fmt.Errorf("unexpected first words %q", buf[:n])
	}
	return nil
}

// read delivers the helper's replies and exits until it is gone, then
// reports its remaining processes killed and fails its pending requests.
func (h *spawnHelper) read() {
	defer close(h.done)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := h.conn.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			break
		}
		if !h.take(buf[:n], spawnhelper.ReceivedFDs(oob[:oobn])) {
			break // not our helper's words: stop trusting it
		}
	}
	// A helper we no longer hear (or that spoke nonsense) must not keep
	// processes we report killed: its death kills them (Pdeathsig).
	h.proc.Process.Kill()
	h.proc.Wait()
	h.mu.Lock()
	h.gone = true
	for id, ch := range h.replies {
		delete(h.replies, id)
		close(ch)
	}
	for pid, ch := range h.children {
		delete(h.children, pid)
		ch <- syscall.WaitStatus(syscall.SIGKILL) // killed with the helper's thread (Pdeathsig)
	}
	h.mu.Unlock()
}

// take handles one message of the helper, b with the descriptors fds
// that came with it: it delivers a reply to its start, or an exit to its
// process's waiter, and closes every descriptor it does not hand over. It
// reports false for words that are not the helper's.
func (h *spawnHelper) take(b []byte, fds []int) bool {
	var m spawnhelper.Msg
	if json.Unmarshal(b, &m) != nil {
		closeFDs(fds)
		return false
	}
	h.mu.Lock()
	if m.Exited {
		if ch, ok := h.children[m.Pid]; ok {
			delete(h.children, m.Pid)
			ch <- syscall.WaitStatus(m.Status)
		}
		idle := h.idleLocked()
		h.mu.Unlock()
		closeFDs(fds)
		if idle && h.onIdle != nil {
			h.onIdle()
		}
		return true
	}
	ch, ok := h.replies[m.ID]
	delete(h.replies, m.ID)
	pidfd := -1
	if len(fds) > 0 {
		pidfd, fds = fds[0], fds[1:]
	}
	closeFDs(fds)
	var status chan syscall.WaitStatus
	if m.Pid > 0 && ok {
		// Registered before the next message: the exit comes after.
		status = make(chan syscall.WaitStatus, 1)
		h.children[m.Pid] = status
	}
	h.mu.Unlock()
	if ok {
		ch <- helperReply{msg: m, pidfd: pidfd, status: status}
	} else if pidfd >= 0 {
		unix.Close(pidfd)
	}
	return true
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// spawn starts cmd through the helper. errHelperGone: the helper is gone
// and no process of cmd's runs; errTooBig: cmd does not fit one request.
func (h *spawnHelper) spawn(cmd *exec.Cmd) (spawned, error) {
	if cmd.Err != nil {
		return spawned{}, cmd.Err
	}
	if cmd.Path == "" {
		return spawned{}, errors.New("exec: no command")
	}
	req := spawnhelper.Request{Path: cmd.Path, Args: cmd.Args, Env: cmd.Environ(), Dir: cmd.Dir}
	if a := cmd.SysProcAttr; a != nil {
		req.Setpgid, req.Setsid, req.Setctty, req.Ctty = a.Setpgid, a.Setsid, a.Setctty, a.Ctty
	}
	var fds []int
	for i, s := range []*os.File{asFile(cmd.Stdin), asFile(cmd.Stdout), asFile(cmd.Stderr)} {
		if s != nil {
			req.Stdio[i] = true
			fds = append(fds, int(s.Fd()))
		}
	}
	ch := make(chan helperReply, 1)
	h.mu.Lock()
	if h.gone {
		h.mu.Unlock()
		return spawned{}, errHelperGone
	}
	h.nextID++
	req.ID = h.nextID
	timeout := h.replyTimeout
	h.replies[req.ID] = ch
	h.mu.Unlock()
	b, err := json.Marshal(req)
	if err == nil && len(b) > spawnhelper.MaxRequest {
		err = errTooBig
	}
	if err == nil {
		_, _, err = h.conn.WriteMsgUnix(b, unix.UnixRights(fds...), nil)
		runtime.KeepAlive(cmd)
		if err != nil {
			err = fmt.Errorf("%w: %v", errHelperGone, err)
		}
	}
	if err != nil {
		h.mu.Lock()
		delete(h.replies, req.ID)
		h.mu.Unlock()
		return spawned{}, err
	}
	var r helperReply
	var ok bool
	frozen := time.NewTimer(timeout)
	defer frozen.Stop()
	select {
	case r, ok = <-ch:
	case <-frozen.C:
		// A frozen helper (stopped, wedged) must not hold every start:
		// killed, it ends the reader, which fails this request (or hands
		// over a reply that came meanwhile, for a process killed with it).
		h.proc.Process.Kill()
		r, ok = <-ch
	}
	if !ok {
		return spawned{}, errHelperGone
	}
	switch m := r.msg; {
	case m.Pid > 0:
		return spawned{pid: m.Pid, pidfd: r.pidfd, status: r.status}, nil
	case m.Errno != 0:
		return spawned{}, &os.PathError{Op: "fork/exec", Path: cmd.Path, Err: syscall.Errno(m.Errno)}
	default:
		return spawned{}, fmt.Errorf("spawn helper: %s", m.Err)
	}
}

// errTooBig: a command too large for one helper request.
var errTooBig = errors.New("spawn request too large")

// asFile returns s as a file, nil for no stream. The Runtime hands
// processes files only (see spawner).
func asFile(s any) *os.File {
	f, _ := s.(*os.File)
	return f
}

// close ends the helper (its processes have all been stopped); the reader
// reaps it.
func (h *spawnHelper) close() {
	h.conn.Close()
	<-h.done
}

// highestStdioFD returns the highest descriptor among cmd's stdio files: the
// lowest free descriptor when they were made, so about how many the
// process holds.
func highestStdioFD(cmd *exec.Cmd) int {
	hi := -1
	for _, s := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		if f := asFile(s); f != nil {
			_ = control(f, func(fd int) { hi = max(hi, fd) })
		}
	}
	return hi
}
