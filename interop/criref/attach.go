package criref

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// Container declares a long-running process that attach sessions join.
type Container struct {
	// ID is "namespace/pod/container".
	ID string
	// Command is the argv of the container's process.
	Command []string
	// TTY gives the process a pseudo-terminal (stderr merges into stdout).
	TTY bool
	// Stdin keeps the process's stdin open for attach sessions to write to.
	Stdin bool
	// StdinOnce closes the process's stdin when the first attach session
	// that wrote to it ends its stdin.
	StdinOnce bool
}

// container is a running Container: its output is broadcast to every
// attached session, and sessions share its stdin.
type container struct {
	spec  Container
	cmd   *exec.Cmd
	stdin io.WriteCloser // nil without Stdin; the pty master with TTY
	pty   *os.File
	done  chan struct{} // closed when the process has exited and output is drained

	mu       sync.Mutex
	sinks    map[*sink]struct{}
	stdinEOF bool
}

// sink is one attach session's view of the output.
type sink struct {
	out, err io.Writer
	failed   chan struct{} // closed on the first write error
	once     sync.Once
}

// StartContainer starts spec's process; it runs until it exits or the
// runtime closes.
func (r *Runtime) StartContainer(spec Container) error {
	if len(spec.Command) == 0 {
		return errors.New("start container: empty command")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("start container: runtime closed")
	}
	if _, dup := r.containers[spec.ID]; dup {
		return fmt.Errorf("start container %s: already exists", spec.ID)
	}
	c := &container{spec: spec, done: make(chan struct{}), sinks: map[*sink]struct{}{}}
	c.cmd = exec.CommandContext(r.life, spec.Command[0], spec.Command[1:]...)
	if err := c.start(r); err != nil {
		return fmt.Errorf("start container %s: %w", spec.ID, err)
	}
	r.containers[spec.ID] = c
	return nil
}

// start launches the process and its output pumps; r.mu is held.
func (c *container) start(r *Runtime) error {
	if c.spec.TTY {
		ptmx, err := pty.Start(c.cmd)
		if err != nil {
			return err
		}
		c.pty, c.stdin = ptmx, ptmx
		r.goTracked(func() { c.pump(ptmx, true) })
		return nil
	}
	outR, err := c.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	errR, err := c.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if c.spec.Stdin {
		if c.stdin, err = c.cmd.StdinPipe(); err != nil {
			return err
		}
	}
	if err := c.cmd.Start(); err != nil {
		return err
	}
	var pumps sync.WaitGroup
	pumps.Add(2)
	r.goTracked(func() { defer pumps.Done(); c.pump(outR, true) })
	r.goTracked(func() { defer pumps.Done(); c.pump(errR, false) })
	r.goTracked(func() { pumps.Wait(); c.wait() })
	return nil
}

// pump broadcasts one output of the process until it ends. With a pty the
// single pump also reaps the process.
func (c *container) pump(src io.Reader, stdout bool) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c.broadcast(buf[:n], stdout)
		}
		if err != nil {
			break
		}
	}
	if c.pty != nil {
		c.wait()
	}
}

func (c *container) wait() {
	_ = c.cmd.Wait()
	if c.pty != nil {
		_ = c.pty.Close()
	}
	close(c.done)
}

// broadcast writes p to every attached session. The sink list is copied so
// that no lock is held while writing; a slow session slows the container's
// output, as with a runtime's attach.
func (c *container) broadcast(p []byte, stdout bool) {
	c.mu.Lock()
	sinks := make([]*sink, 0, len(c.sinks))
	for s := range c.sinks {
		sinks = append(sinks, s)
	}
	c.mu.Unlock()
	for _, s := range sinks {
		w := s.err
		if stdout {
			w = s.out
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(p); err != nil {
			s.once.Do(func() { close(s.failed) })
		}
	}
}

// Attach joins the standard streams of a container started with
// StartContainer. It returns when the container exits, ctx ends, the
// session's stdin ends (when it has one), or writing to the session fails.
func (r *Runtime) Attach(ctx context.Context, containerID string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	r.mu.Lock()
	c, ok := r.containers[containerID]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("container %q not found", containerID)
	}
	s := &sink{failed: make(chan struct{})}
	if out != nil {
		s.out = out
	}
	if errOut != nil && !c.spec.TTY {
		s.err = errOut
	}
	c.mu.Lock()
	c.sinks[s] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.sinks, s)
		c.mu.Unlock()
	}()

	stdinDone := make(chan struct{})
	if in != nil && c.stdin != nil {
		r.goTracked(func() { defer close(stdinDone); c.copyStdin(in) })
	}
	resized := make(chan struct{})
	done := make(chan struct{})
	defer func() { close(done); <-resized }()
	go func() {
		defer close(resized)
		if c.pty != nil && tty {
			followResize(c.pty, resize, done)
		}
	}()

	select {
	case <-c.done:
	case <-ctx.Done():
	case <-stdinDone:
	case <-s.failed:
	}
	return nil
}

// copyStdin forwards one session's stdin; with StdinOnce its end closes the
// container's stdin for good.
func (c *container) copyStdin(in io.Reader) {
	_, _ = io.Copy(c.stdin, in)
	if c.spec.StdinOnce && c.pty == nil {
		c.mu.Lock()
		first := !c.stdinEOF
		c.stdinEOF = true
		c.mu.Unlock()
		if first {
			_ = c.stdin.Close()
		}
	}
}
