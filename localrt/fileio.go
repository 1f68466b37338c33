package localrt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/protocol/resize"
)

// defaultSize is the terminal size when nobody gave one.
var defaultSize = resize.Size{Width: 80, Height: 24}

// startPTY starts cmd on a new pseudo-terminal whose size is set before the
// process starts (so `stty size` never sees 0 0), in a new session with the
// terminal as its controlling tty. It returns the master.
//
// pty.StartWithSize would do the same, but creack/pty's ioctls call
// File.Fd, which puts the master in blocking mode: reads could then be
// neither interrupted by a deadline nor by Close. The master is therefore
// re-opened as a non-blocking, poller-registered file first. start starts
// cmd (the Runtime's spawner).
func startPTY(cmd *exec.Cmd, size resize.Size, start func(*exec.Cmd) (spawned, error)) (*os.File, spawned, error) {
	m, tty, err := pty.Open()
	if err != nil {
		return nil, spawned{}, fmt.Errorf("open pty: %w", err)
	}
	defer tty.Close()
	master, err := pollable(m)
	if err != nil {
		return nil, spawned{}, err
	}
	if err := setSize(master, size); err != nil {
		master.Close()
		return nil, spawned{}, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	st, err := start(cmd)
	if err != nil {
		master.Close()
		return nil, spawned{}, err
	}
	return master, st, nil
}

// pollable returns a non-blocking duplicate of f registered with the
// runtime poller, and closes f.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dup %s: %w", f.Name(), err)
	}
	var fd int
	var derr error
	if err := rc.Control(func(u uintptr) { fd, derr = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("dup %s: %w", f.Name(), err)
	}
	if derr != nil {
		return nil, fmt.Errorf("dup %s: %w", f.Name(), derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set nonblock %s: %w", f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// setSize sets a pty's window size (zero fields take 80x24's), without
// File.Fd so f stays non-blocking.
func setSize(f *os.File, s resize.Size) error {
	if s.Width == 0 {
		s.Width = defaultSize.Width
	}
	if s.Height == 0 {
		s.Height = defaultSize.Height
	}
	ws := &unix.Winsize{Row: s.Height, Col: s.Width}
	var ierr error
	if err := control(f, func(fd int) { ierr = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) }); err != nil {
		return fmt.Errorf("resize pty: %w", err)
	}
	if ierr != nil {
		return fmt.Errorf("resize pty: %w", ierr)
	}
	return nil
}

func control(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// copyFile copies src to dst until src ends. When dst implements
// io.ReaderFrom it gets src itself: io.Copy would hand it a wrapper
// (os.File.WriteTo falls back to copying from a type that hides the
// *os.File), defeating writers that wait for readability on the file
// without holding a buffer.
func copyFile(dst io.Writer, src *os.File) (int64, error) {
	if rf, ok := dst.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(dst, src)
}

// endOfOutput reports whether err is how an output source normally ends:
// EOF, EIO from a pty master whose terminal closed, or the deadline the
// drainer sets to stop waiting for a background child.
func endOfOutput(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed)
}

// readDeadliner is implemented by readers whose pending Read can be
// interrupted (pipes and sockets).
type readDeadliner interface {
	SetReadDeadline(time.Time) error
}

// interruptRead makes a pending and every future Read on r return at once,
// if r supports read deadlines. It reports whether it could.
func interruptRead(r io.Reader) bool {
	d, ok := r.(readDeadliner)
	return ok && d.SetReadDeadline(time.Unix(1, 0)) == nil
}
