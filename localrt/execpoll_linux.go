package localrt

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// execPoller is one exec session's readiness poller: an epoll instance
// holding the process's output sources (pipes or a pty master) and its
// pidfd, itself parked in the Go runtime's poller. The session's own
// goroutine waits on it for output or exit, so an idle exec costs no
// copier goroutines, no waiter goroutine and no buffer (see runPolled).
type execPoller struct {
	ep     *os.File // the epoll instance, non-blocking, in the runtime poller
	raw    syscall.RawConn
	pidfd  int // -1 once closed
	events [4]unix.EpollEvent
	ready  []unix.EpollEvent // what the last wait returned
}

// pollEvent is what wait returns: Fd is the source's index, or pidfdToken.
type pollEvent = unix.EpollEvent

// pidfdToken marks the pidfd's events; outputs are marked by their index.
const pidfdToken = -1

// newExecPoller watches the exit of st's process and the readability of
// srcs, taking st's pidfd when it has one. It fails where epoll or
// pidfd_open is not available; the caller then supervises the process the
// older way, a goroutine per source.
func newExecPoller(st *spawned, srcs []*os.File) (_ *execPoller, err error) {
	given := st.takePidfd()
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		closePidfd(given)
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	p := &execPoller{pidfd: given}
	defer func() {
		if err != nil {
			p.close()
			if p.ep == nil {
				unix.Close(epfd)
			}
		}
	}()
	if err := unix.SetNonblock(epfd, true); err != nil {
		return nil, fmt.Errorf("epoll nonblock: %w", err)
	}
	if p.pidfd < 0 {
		pidfd, err := unix.PidfdOpen(st.pid, 0)
		if err != nil {
			return nil, fmt.Errorf("pidfd_open: %w", err)
		}
		p.pidfd = pidfd
	}
	if err := epollAdd(epfd, p.pidfd, pidfdToken); err != nil {
		return nil, err
	}
	for i, f := range srcs {
		var aerr error
		if err := control(f, func(fd int) { aerr = epollAdd(epfd, fd, int32(i)) }); err != nil {
			return nil, fmt.Errorf("output %d: %w", i, err)
		}
		if aerr != nil {
			return nil, aerr
		}
	}
	p.ep = os.NewFile(uintptr(epfd), "exec-epoll")
	if p.raw, err = p.ep.SyscallConn(); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	// A file the runtime poller refused would make wait block a thread
	// with no deadline: use the older way instead.
	if err := p.ep.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("epoll not pollable: %w", err)
	}
	return p, nil
}

func epollAdd(epfd, fd int, token int32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: token}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	return nil
}

// wait parks until a source is readable, the process exited, or the
// deadline (zero: none) passes or wake is called; it returns the ready
// events (none after a deadline or a wake).
func (p *execPoller) wait(deadline time.Time) ([]pollEvent, error) {
	if err := p.ep.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	var werr error
	err := p.raw.Read(func(fd uintptr) bool {
		n, err := unix.EpollWait(int(fd), p.events[:], 0)
		switch {
		case errors.Is(err, unix.EINTR):
			return false
		case err != nil:
			werr = err
			return true
		}
		p.ready = p.events[:n]
		return n > 0
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, nil
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return nil, fmt.Errorf("epoll_wait: %w", err)
	}
	return p.ready, nil
}

// wake ends a wait in progress, or the next one, at once.
func (p *execPoller) wake() { _ = p.ep.SetReadDeadline(time.Unix(1, 0)) }

// exited stops watching the reaped process.
func (p *execPoller) exited() {
	if p.pidfd >= 0 {
		_ = control(p.ep, func(epfd int) { _ = unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, p.pidfd, nil) })
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
}

// ended stops watching an output source that reached its end (it stays
// open until the session closes it).
func (p *execPoller) ended(src *os.File) {
	_ = control(src, func(fd int) {
		_ = control(p.ep, func(epfd int) { _ = unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, fd, nil) })
	})
}

func (p *execPoller) close() {
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
	if p.ep != nil {
		p.ep.Close()
	}
}
