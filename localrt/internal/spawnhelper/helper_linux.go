//go:build linux

package spawnhelper

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// Env makes an executable that imports this package a spawn helper
// serving the socket on descriptor 3 (see init).
const Env = "PORTHOLE_LOCALRT_SPAWN_HELPER"

// MaxRequest bounds one request (a SOCK_SEQPACKET message). A command
// whose arguments and environment need more is started directly.
const MaxRequest = 128 << 10

// Request asks for one process. Its stdio descriptors come with the
// message, in order, for each Stdio entry that is true; the others are
// /dev/null, as exec.Cmd makes a nil stream.
type Request struct {
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

// Msg is what the helper says: a reply to request ID (Pid and a
// pidfd with the message, or Errno/Err), or an exit (Exited: Pid was
// reaped with Status). A process's reply always comes before its exit.
// The helper says Ready first, once it serves.
type Msg struct {
	Ready  bool   `json:"ready,omitempty"` // the helper's first words
	ID     uint64 `json:"id,omitempty"`
	Pid    int    `json:"pid,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Err    string `json:"err,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Status uint32 `json:"status,omitempty"`
}

func init() {
	if os.Getenv(Env) == "1" {
		os.Exit(serve(3))
	}
}

// serve serves requests on sock until the Runtime closes its end.
// It runs on the main goroutine during init, which the Go runtime keeps on
// the main thread: the thread every process's Pdeathsig refers to lives as
// long as the helper.
func serve(sock int) int {
	runtime.LockOSThread()
	if typ, err := syscall.GetsockoptInt(sock, syscall.SOL_SOCKET, syscall.SO_TYPE); err != nil || typ != syscall.SOCK_SEQPACKET {
		fmt.Fprintf(os.Stderr, "%s is set but descriptor %d is not the spawn socket\n", Env, sock)
		return 2
	}
	// The socket came as an inherited descriptor; no process of ours may
	// inherit it in turn (it could ask for processes).
	syscall.CloseOnExec(sock)
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
	send := func(m Msg, pidfd int) error {
		b, _ := json.Marshal(m)
		var oob []byte
		if pidfd >= 0 {
			oob = syscall.UnixRights(pidfd)
		}
		for {
			err := syscall.Sendmsg(sock, b, oob, nil, 0)
			if err != syscall.EINTR {
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
				if known && send(Msg{Pid: pid, Exited: true, Status: uint32(ws)}, -1) != nil {
					os.Exit(0) // the Runtime is gone; the processes die with this thread
				}
				mu.Unlock()
				if known {
					break
				}
			}
		}
	}()

	if send(Msg{Ready: true}, -1) != nil {
		return 0
	}
	buf := make([]byte, MaxRequest+1)
	oob := make([]byte, syscall.CmsgSpace(3*4))
	for {
		n, oobn, flags, _, err := syscall.Recvmsg(sock, buf, oob, syscall.MSG_CMSG_CLOEXEC)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0 // the Runtime closed its end (or died)
		}
		fds := ReceivedFDs(oob[:oobn])
		var req Request
		var reply Msg
		pidfd := -1
		mu.Lock()
		switch {
		case flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0:
			reply.Err = "spawn request truncated"
		case json.Unmarshal(buf[:n], &req) != nil:
			reply.Err = "malformed spawn request"
		default:
			reply.Pid, pidfd, err = fork(&req, fds)
			if err != nil {
				if errno, ok := err.(syscall.Errno); ok {
					reply.Errno = int(errno)
				} else {
					reply.Err = err.Error()
				}
			}
		}
		for _, fd := range fds {
			syscall.Close(fd)
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
			syscall.Close(pidfd)
		}
		if err != nil {
			return 0
		}
	}
}

// fork starts req's process with fds as the stdio it names.
func fork(req *Request, fds []int) (pid, pidfd int, err error) {
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
		mode := syscall.O_WRONLY
		if i == 0 {
			mode = syscall.O_RDONLY
		}
		null, err := syscall.Open(os.DevNull, mode|syscall.O_CLOEXEC, 0)
		if err != nil {
			return 0, -1, err
		}
		defer syscall.Close(null)
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

// ReceivedFDs returns the descriptors of SCM_RIGHTS messages in oob.
func ReceivedFDs(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := syscall.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}
