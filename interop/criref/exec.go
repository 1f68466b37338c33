package criref

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// Exec runs cmd as a child process and returns when it has exited and all
// of its output has been written to out and errOut. A non-zero exit comes
// back as a k8s.io/utils/exec.CodeExitError. With tty the process gets a
// pseudo-terminal whose size follows resize; stderr is merged into out.
//
// Exec does not wait for the client's stdin to end: like a container
// runtime, the session ends when the process does. The stdin copier stays
// blocked on the client stream until the library closes the connection
// right after Exec returns; Close joins it.
func (r *Runtime) Exec(ctx context.Context, containerID string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	if len(cmd) == 0 {
		return errors.New("exec: empty command")
	}
	ctx, cancel := r.procContext(ctx)
	defer cancel()
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	if tty {
		return r.execTTY(c, in, out, resize)
	}
	return r.execPipes(c, in, out, errOut)
}

// execPipes runs c with pipes: os/exec copies stdout and stderr and Wait
// returns only after both reached EOF.
func (r *Runtime) execPipes(c *exec.Cmd, in io.Reader, out, errOut io.WriteCloser) error {
	if out != nil {
		c.Stdout = out
	}
	if errOut != nil {
		c.Stderr = errOut
	}
	var stdin io.WriteCloser
	if in != nil {
		w, err := c.StdinPipe()
		if err != nil {
			return fmt.Errorf("stdin pipe: %w", err)
		}
		stdin = w
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.Path, err)
	}
	if in != nil {
		// Wait closes stdin once the process exits, which ends a copier
		// blocked writing to a process that stopped reading.
		r.goTracked(func() { copyStdin(stdin, in) })
	}
	return exitError(c.Wait())
}

// copyStdin feeds the process until the client's stdin ends, then closes
// the pipe so the process reads EOF.
func copyStdin(dst io.WriteCloser, src io.Reader) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
}

// execTTY runs c on a new pseudo-terminal. The output copy ends with EIO
// when the last holder of the terminal's slave side exits.
func (r *Runtime) execTTY(c *exec.Cmd, in io.Reader, out io.WriteCloser, resize <-chan remotecommand.TerminalSize) error {
	ptmx, err := pty.Start(c)
	if err != nil {
		return fmt.Errorf("start %s on a pty: %w", c.Path, err)
	}
	done := make(chan struct{})
	resized := make(chan struct{})
	go func() {
		defer close(resized)
		followResize(ptmx, resize, done)
	}()
	if in != nil {
		// A pty cannot be half-closed: stdin EOF just stops the copy, as
		// with a container runtime's console.
		r.goTracked(func() { _, _ = io.Copy(ptmx, in) })
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyOutput(out, ptmx)
	}()
	waitErr := c.Wait()
	<-copied
	close(done)
	<-resized
	_ = ptmx.Close()
	return exitError(waitErr)
}

// copyOutput copies terminal output to out (discarding it when out is nil)
// until the terminal reports EIO.
func copyOutput(out io.Writer, ptmx *os.File) {
	if out == nil {
		out = io.Discard
	}
	_, _ = io.Copy(out, ptmx)
}

// followResize applies terminal sizes until the channel closes or done.
func followResize(ptmx *os.File, resize <-chan remotecommand.TerminalSize, done <-chan struct{}) {
	for {
		select {
		case size, ok := <-resize:
			if !ok {
				return
			}
			_ = pty.Setsize(ptmx, &pty.Winsize{Rows: size.Height, Cols: size.Width})
		case <-done:
			return
		}
	}
}
