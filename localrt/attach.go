package localrt

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/resize"
)

// Attach joins container c's main process: its output from now on is
// written to streams.Stdout and streams.Stderr (stdout only with a tty),
// alongside any other attacher, synchronously (a stalled attacher stalls
// the container's output). streams.Stdin goes to the process when the
// container has stdin: true, and is read and dropped otherwise. With a tty,
// streams.Size and every size from streams.Resize resize the container's
// pty.
//
// When the attacher's stdin ends, Attach follows containerd
// (internal/cri/io/container_io.go): with stdinOnce and no tty, the
// process's stdin is closed and output keeps flowing until the process
// exits; otherwise the attacher detaches and Attach returns. Attach also
// returns when ctx is cancelled or once the process has exited and its
// output was delivered. Detaching never stops the process. Attach returns
// nil in those cases (attach never reports exit codes), an error when the
// container is not running (wrapping node.ErrNotRunning) or when writing
// its output failed. Attach returns only after every write to streams has
// returned, so the caller must make writes return when ctx is cancelled.
func (r *Runtime) Attach(ctx context.Context, c node.Container, s node.Streams) error {
	leave, err := r.enter()
	if err != nil {
		return err
	}
	defer leave()
	ct, err := r.lookupContainer(c)
	if err != nil {
		return err
	}
	run := ct.currentRun()
	a := &attacher{stdout: s.Stdout, stderr: s.Stderr, broken: make(chan struct{})}
	if run != nil && run.tty != nil {
		a.stderr = nil
	}
	if run == nil {
		return fmt.Errorf("attach to container %s: %w", ct.spec.Name, node.ErrNotRunning)
	}
	started(s) // before attach: output may reach us as soon as we are attached
	if !run.attach(a) {
		return fmt.Errorf("attach to container %s: %w", ct.spec.Name, node.ErrNotRunning)
	}
	defer run.detach(a)
	// Sizes apply once attached, so output they cause (a redraw) reaches us.
	if run.tty != nil {
		if s.Size != (resize.Size{}) {
			setSize(run.tty, s.Size)
		}
		rs := newResizer(run.tty, s.Resize)
		rs.start()
		defer rs.stop()
	}
	var in *attachInput
	if s.Stdin != nil {
		in = r.startInput(run, s.Stdin)
		defer in.stop()
	}
	if r.onAttach != nil {
		r.onAttach()
	}
	return run.follow(ctx, a, in)
}

// follow waits for the attach session to end; see Attach.
func (r *run) follow(ctx context.Context, a *attacher, in *attachInput) error {
	once := r.c.spec.StdinOnce && r.tty == nil
	var inEnded <-chan struct{}
	if in != nil {
		inEnded = in.done
		if once && !in.discard {
			// The stream ending by disconnection closes stdin too.
			defer r.closeStdin()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.outDone:
			return nil
		case <-a.broken:
			if ctx.Err() != nil {
				return nil // the caller failed our write to end the session
			}
			return fmt.Errorf("write attach output: %w", a.err)
		case <-inEnded:
			inEnded = nil
			switch {
			case in.discard:
			case once:
				r.closeStdin()
			default:
				return nil
			}
		}
	}
}

// attach adds a to the run's attachers; false once the run's output is over.
func (r *run) attach(a *attacher) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return false
	}
	r.attachers[a] = true
	return true
}

// detach removes a and waits for a write to it in progress.
func (r *run) detach(a *attacher) {
	r.mu.Lock()
	delete(r.attachers, a)
	r.mu.Unlock()
	a.busy.Wait()
}

// attacher is one Attach session's output side.
type attacher struct {
	stdout, stderr io.Writer
	busy           sync.WaitGroup // writes in progress; Add only under run.mu while attached
	broken         chan struct{}  // closed when a write failed; err is set before
	once           sync.Once
	err            error
}

// write writes one chunk; after a failure, it writes nothing more.
func (a *attacher) write(p []byte, stderr bool) {
	w := a.stdout
	if stderr {
		w = a.stderr
	}
	if w == nil {
		return
	}
	select {
	case <-a.broken:
		return
	default:
	}
	if _, err := w.Write(p); err != nil {
		a.once.Do(func() {
			a.err = err
			close(a.broken)
		})
	}
}

// attachInput copies one attacher's stdin to the run's stdin writer.
type attachInput struct {
	run     *run
	src     io.Reader
	discard bool // the container has no stdin: read and drop
	quit    chan struct{}
	done    chan struct{} // closed when src ended or the input was refused
}

// startInput starts copying src; callers must call stop.
func (rt *Runtime) startInput(r *run, src io.Reader) *attachInput {
	in := &attachInput{run: r, src: src, discard: r.stdin == nil, quit: make(chan struct{}), done: make(chan struct{})}
	rt.goTracked(in.copyInput)
	return in
}

// copyInput reads src and hands each chunk to the run's writer, waiting for
// it to be written (backpressure). When it gives up waiting (detach, run
// over) the writer may still hold buf, which is therefore never reused.
func (in *attachInput) copyInput() {
	defer close(in.done)
	buf := make([]byte, 32<<10)
	reply := make(chan error, 1)
	for {
		n, err := in.src.Read(buf)
		if n > 0 && !in.discard {
			select {
			case in.run.stdinCh <- stdinChunk{p: buf[:n], done: reply}:
			case <-in.quit:
				return
			case <-in.run.outDone:
				return
			}
			select {
			case werr := <-reply:
				if werr != nil {
					return
				}
			case <-in.quit:
				return
			case <-in.run.outDone:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stop ends the copy: it interrupts a pending Read when src allows it and
// joins; otherwise the copier ends when the caller closes src (as
// node.Streams promises) and Runtime.Close joins it.
func (in *attachInput) stop() {
	close(in.quit)
	if interruptRead(in.src) {
		<-in.done
	}
}
