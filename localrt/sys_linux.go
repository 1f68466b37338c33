package localrt

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/internal/pump"
)

// pending is how many bytes are waiting to be read from a pipe or pty
// master (FIONREAD, spelt TIOCINQ on Linux); 0 when it cannot tell.
func pending(f *os.File) int {
	n := 0
	control(f, func(fd int) {
		if v, err := unix.IoctlGetInt(fd, unix.TIOCINQ); err == nil {
			n = v
		}
	})
	return n
}

// setPipeSize asks for a pipe buffer of size bytes (F_SETPIPE_SZ). Larger
// pipes mean fewer wakeups per byte for the copier; failure (size above
// /proc/sys/fs/pipe-max-size for an unprivileged user) keeps the default.
func setPipeSize(f *os.File, size int) {
	if size <= 0 {
		return
	}
	control(f, func(fd int) { unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, size) })
}

// waitExit parks until pid has exited, on a pollable pidfd in the runtime's
// poller. Process.Wait alone blocks an OS thread in waitid for the process's
// whole life: one thread per idle session (measured: 200 idle execs, 208
// threads, about 85 KiB of RSS each session). Where pidfd_open is not
// available it returns at once and Wait blocks as before.
func waitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	_ = pump.NewWaiter(f).Wait()
}

// setParentDeathSignal has the kernel kill the process when the thread that
// started it (the spawner's, which lives as long as the runtime) dies, so
// no container process outlives a killed server.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// closePidfd closes a pidfd, if any (fd >= 0).
func closePidfd(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}
