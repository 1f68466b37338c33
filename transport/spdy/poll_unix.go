//go:build unix

package spdy

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// waitReadable blocks until rc's descriptor has data, EOF or an error.
// RawConn.Read calls the callback, and while it returns false parks on the
// runtime poller until the descriptor signals readiness. The poller is
// edge-triggered, so the callback must look for itself (poll with a zero
// timeout): data left over from an earlier partial read raises no new edge.
func waitReadable(rc syscall.RawConn) {
	_ = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			return err != nil || n > 0
		}
	})
}
