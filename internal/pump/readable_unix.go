//go:build unix

package pump

import (
	"errors"

	"golang.org/x/sys/unix"
)

// readable polls fd with a zero timeout. Hang-up and errors count as
// readable so the following Read reports them.
func readable(fd int) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds[:], 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return true
		}
		return n > 0 && fds[0].Revents != 0
	}
}
