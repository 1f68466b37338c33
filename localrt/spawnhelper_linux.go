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

// spawnHelperEnv makes this executable a spawn helper serving the socket on
// descriptor 3 (see init).
const spawnHelperEnv = "PORTHOLE_LOCALRT_SPAWN_HELPER"

// maxHelperRequest bounds one request (a SOCK_SEQPACKET message). A command
// whose arguments and environment need more is started directly.
const maxHelperRequest = 128 << 10

// helperRequest asks for one process. Its stdio descriptors come with the
// message, in order, for each Stdio entry that is true; the others are
// /dev/null, as exec.Cmd makes a nil stream.
type helperRequest struct {
	ID      uint64   `json:"id"`
	Path    string   `json:"path"`
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Dir     string   `json:"dir,omitempty"`
	Stdio   [3]bool  `json:"stdio"`
	Setpgid bool     `json:"setpgid,omitempty"`
	Setsid  bool     `json:"setsid,omitempty"`
	Setctty bool     `json:"setctty,omitempty"`
	Ctty    int      `json:"ctty,omitempty"`
}

// helperMsg is what the helper says: a reply to request ID (Pid and a
// pidfd with the message, or Errno/Err), or an exit (Exited: Pid was
// reaped with Status). A process's reply always comes before its exit.
// The helper says Ready first, once it serves.
type helperMsg struct {
	Ready  bool   `json:"ready,omitempty"` // the helper's first words
	ID     uint64 `json:"id,omitempty"`
	Pid    int    `json:"pid,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Err    string `json:"err,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Status uint32 `json:"status,omitempty"`
}

func init() {
	if os.Getenv(spawnHelperEnv) == "1" {
		os.Exit(runSpawnHelper(3))
	}
}

// runSpawnHelper serves requests on sock until the Runtime closes its end.
// It runs on the main goroutine during init, which the Go runtime keeps on
// the main thread: the thread every process's Pdeathsig refers to lives as
// long as the helper.
func runSpawnHelper(sock int) int {
	runtime.LockOSThread()
	if typ, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_SEQPACKET {
		fmt.Fprintf(os.Stderr, "%s is set but descriptor %d is not the spawn socket\n", spawnHelperEnv, sock)
		return 2
	}
	// The socket came as an inherited descriptor; no process of ours may
	// inherit it in turn (it could ask for processes).
	unix.CloseOnExec(sock)
	// mu orders the socket's messages: a process's reply is sent, and its
	// pid entered in live, before the reaper may report its exit. live
	// holds the processes started and not yet reported; waiting counts
	// those the reaper has yet to wait for.
	var (
		mu      sync.Mutex
		more    = sync.NewCond(&mu)
		live    = make(map[int]bool)
		waiting int
	)
	send := func(m helperMsg, pidfd int) error {
		b, _ := json.Marshal(m)
		var oob []byte
		if pidfd >= 0 {
			oob = unix.UnixRights(pidfd)
		}
		for {
			err := unix.Sendmsg(sock, b, oob, nil, 0)
			if err != unix.EINTR {
				return err
			}
		}
	}
	// The reaper blocks in wait4 (a thread of its own) while a process
	// lives: it learns of an exit at once, where SIGCHLD would go through
	// the Go runtime's signal goroutine (measured: about 0.4 ms later).
	// A child whose exec failed is Go ForkExec's to reap; should the
	// reaper get it first, it is no live process and is not reported.
	go func() {
		for {
			mu.Lock()
			for waiting == 0 {
				more.Wait()
			}
			waiting--
			mu.Unlock()
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, 0, nil)
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					break // ECHILD: cannot be while a process lives
				}
				mu.Lock()
				known := live[pid]
				delete(live, pid)
				if known && send(helperMsg{Pid: pid, Exited: true, Status: uint32(ws)}, -1) != nil {
					os.Exit(0) // the Runtime is gone; the processes die with this thread
				}
				mu.Unlock()
				if known {
					break
				}
			}
		}
	}()

	if send(helperMsg{Ready: true}, -1) != nil {
		return 0
	}
	buf := make([]byte, maxHelperRequest+1)
	oob := make([]byte, unix.CmsgSpace(3*4))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0 // the Runtime closed its end (or died)
		}
		fds := receivedFDs(oob[:oobn])
		var req helperRequest
		var reply helperMsg
		pidfd := -1
		mu.Lock()
		switch {
		case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
			reply.Err = "spawn request truncated"
		case json.Unmarshal(buf[:n], &req) != nil:
			reply.Err = "malformed spawn request"
		default:
			reply.Pid, pidfd, err = helperFork(&req, fds)
			if err != nil {
				if errno, ok := err.(syscall.Errno); ok {
					reply.Errno = int(errno)
				} else {
					reply.Err = err.Error()
				}
			}
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		reply.ID = req.ID
		err = send(reply, pidfd)
		if reply.Pid > 0 {
			live[reply.Pid] = true
			waiting++
			more.Signal()
		}
		mu.Unlock()
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		if err != nil {
			return 0
		}
	}
}

// helperFork starts req's process with fds as the stdio it names.
func helperFork(req *helperRequest, fds []int) (pid, pidfd int, err error) {
	files := make([]uintptr, 3)
	next := 0
	for i, given := range req.Stdio {
		if given {
			if next == len(fds) {
				return 0, -1, errors.New("spawn request names more descriptors than it carries")
			}
			files[i] = uintptr(fds[next])
			next++
			continue
		}
		mode := unix.O_WRONLY
		if i == 0 {
			mode = unix.O_RDONLY
		}
		null, err := unix.Open(os.DevNull, mode|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, -1, err
		}
		defer unix.Close(null)
		files[i] = uintptr(null)
	}
	pidfd = -1
	attr := &syscall.ProcAttr{
		Dir:   req.Dir,
		Env:   req.Env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Setpgid: req.Setpgid, Setsid: req.Setsid, Setctty: req.Setctty, Ctty: req.Ctty,
			Pdeathsig: syscall.SIGKILL,
			PidFD:     &pidfd,
		},
	}
	pid, err = syscall.ForkExec(req.Path, req.Args, attr)
	if err != nil {
		return 0, -1, err
	}
	return pid, pidfd, nil
}

// receivedFDs returns the descriptors of SCM_RIGHTS messages in oob.
func receivedFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

// errHelperGone: the helper died (or the Runtime closed it) before it
// answered; the process, if it was started, was killed with it.
var errHelperGone = errors.New("spawn helper gone")

// spawnHelper is the Runtime's side of a running helper.
type spawnHelper struct {
	proc *exec.Cmd
	conn *net.UnixConn
	done chan struct{} // the reader ended

	mu       sync.Mutex
	nextID   uint64
	replies  map[uint64]chan helperReply
	children map[int]chan syscall.WaitStatus
	gone     bool
}

type helperReply struct {
	msg    helperMsg
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
		Env:        []string{spawnHelperEnv + "=1", "GOMAXPROCS=2"},
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
		proc:     cmd,
		conn:     conn,
		done:     make(chan struct{}),
		replies:  make(map[uint64]chan helperReply),
		children: make(map[int]chan syscall.WaitStatus),
	}
	go h.read()
	return h, nil
}

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
	var m helperMsg
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
		fds := receivedFDs(oob[:oobn])
		var m helperMsg
		if json.Unmarshal(buf[:n], &m) != nil {
			closeFDs(fds)
			break // not our helper's words: stop trusting it
		}
		h.mu.Lock()
		if m.Exited {
			if ch, ok := h.children[m.Pid]; ok {
				delete(h.children, m.Pid)
				ch <- syscall.WaitStatus(m.Status)
			}
			h.mu.Unlock()
			closeFDs(fds)
			continue
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
	req := helperRequest{Path: cmd.Path, Args: cmd.Args, Env: cmd.Environ(), Dir: cmd.Dir}
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
	h.replies[req.ID] = ch
	h.mu.Unlock()
	b, err := json.Marshal(req)
	if err == nil && len(b) > maxHelperRequest {
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
	r, ok := <-ch
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
