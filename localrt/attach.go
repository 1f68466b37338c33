package localrt

import (
	"context"
	"fmt"
	"io"

	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/resize"
)

// Attach joins container c's main process: its output from now on is
// written to streams.Stdout and streams.Stderr (stdout only with a tty),
// alongside any other attacher. Each attacher has its own bounded queue and
// writer (see attacher): an attacher that takes no output for
// Options.AttachStallTimeout while its queue is full is cut, and Attach
// returns an error wrapping node.ErrStalled, so a frozen or vanished client
// never holds up the container or the other attachers. streams.Stdin goes to
// the process when the container has stdin: true, and is read and dropped
// otherwise. With a tty, streams.Size and every size from streams.Resize
// resize the container's pty.
//
// When the attacher's stdin ends, Attach follows containerd
// (internal/cri/io/container_io.go): with stdinOnce and no tty, the
// process's stdin is closed and output keeps flowing until the process
// exits; otherwise the attacher detaches and Attach returns. Attach also
// returns when ctx is cancelled or once the process has exited and its
// output was delivered. Detaching never stops the process. Attach returns
// nil in those cases (attach never reports exit codes), an error when the
// container is not running (wrapping node.ErrNotRunning), when writing its
// output failed, or when it stalled. Output queued before a detach or the
// process's exit is written before Attach returns; after a cancelled ctx or
// an error, a write may still be in flight when Attach returns: the caller
// ends it by closing the session's connection, and Close joins the writer.
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
	a := newAttacher(s.Stdout, s.Stderr, r.opts.AttachStallTimeout)
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
	if a.hasOutput() {
		r.goTracked(a.writeLoop)
	}
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
	drain, err := run.follow(ctx, a, in)
	run.detach(a)
	if drain && a.hasOutput() {
		a.drain(ctx)
	}
	a.stop()
	if err == nil && ctx.Err() == nil && a.isBroken() {
		err = fmt.Errorf("write attach output: %w", a.err)
	}
	return err
}

// follow waits for the attach session to end; see Attach. drain tells
// whether the output queued for a is still to be written (the session goes
// on: a detach or the process's exit).
func (r *run) follow(ctx context.Context, a *attacher, in *attachInput) (drain bool, err error) {
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
			return false, nil
		case <-r.outDone:
			return true, nil
		case <-a.broken:
			if ctx.Err() != nil {
				return false, nil // the caller failed our write to end the session
			}
			return false, fmt.Errorf("write attach output: %w", a.err)
		case <-inEnded:
			inEnded = nil
			switch {
			case in.discard:
			case once:
				r.closeStdin()
			default:
				return true, nil
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

// detach removes a and waits for the pumps to finish offering to it (an
// offer is bounded by the stall timeout).
func (r *run) detach(a *attacher) {
	r.mu.Lock()
	delete(r.attachers, a)
	r.mu.Unlock()
	a.busy.Wait()
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
