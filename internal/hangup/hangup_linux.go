package hangup

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// gone polls for POLLRDHUP (the peer's FIN, even behind unread data) and
// POLLHUP or POLLERR (a reset), without waiting.
func gone(rc syscall.RawConn) bool {
	hung := false
	err := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			hung = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
			return
		}
	})
	return err == nil && hung
}

// quiet asks for the bytes sent but not acknowledged, or not sent yet (SIOCOUTQ).
func quiet(rc syscall.RawConn) bool {
	n := -1
	err := rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			n = v
		}
	})
	return err == nil && n == 0
}
