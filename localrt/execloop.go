package localrt

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/internal/pump"
)

// copyPool holds the buffers of outputs whose writer cannot read from the
// source itself (no io.ReaderFrom): taken only while a chunk moves.
var copyPool = pump.NewPool(32 << 10)

// runPolled supervises a started exec'd process on the calling goroutine
// alone, with ep (see execPoller): it copies each output chunk as it
// becomes readable, reaps the process when its pidfd says it exited,
// stops it when ctx ends (sig, SIGKILL after KillGrace), and returns once
// the process is reaped and its output copied (at most drainGrace of
// silence after the exit while a background child holds an output open,
// as waitDrained). Writes block while the session does not read
// (backpressure to the process). It closes out's sources and ep.
func (r *Runtime) runPolled(ctx context.Context, ct *container, ep *execPoller, p *process, out *outputs, in *stdinPump, rs *resizer, sig syscall.Signal) error {
	defer ep.close()
	ct.trackGroup(p.pgid)
	rs.start()
	srcs := make([]*readyReader, len(out.srcs))
	errs := make([]error, len(out.srcs))
	left := len(out.srcs)
	for i, f := range out.srcs {
		rr, err := newReadyReader(f)
		if err != nil {
			errs[i] = fmt.Errorf("copy %s: %w", out.names[i], err)
			rr = &readyReader{ended: true}
			ep.ended(f)
			left--
		}
		srcs[i] = rr
	}
	stopWake := context.AfterFunc(ctx, ep.wake)
	defer stopWake()

	var (
		exited    bool
		cancelled bool
		killed    bool
		killAt    time.Time // SIGKILL when the signalled process is still there
	)
	for !exited || left > 0 {
		var deadline time.Time
		switch {
		case exited:
			deadline = time.Now().Add(r.drainGrace)
		case cancelled && !killed:
			deadline = killAt
		}
		// A cancellation after this check wakes the wait below (ep.wake
		// sets a past deadline after ours).
		if ctx.Err() != nil && !cancelled && !exited {
			cancelled = true
			p.signalGroup(sig)
			killAt = time.Now().Add(r.opts.KillGrace)
			continue
		}
		events, err := ep.wait(deadline)
		if err != nil {
			// The poller broke (it cannot, short of a kernel bug): end the
			// process and the outputs rather than spin.
			p.signalGroup(syscall.SIGKILL)
			if !exited {
				p.reap()
			}
			closeAll(out.srcs)
			rs.stop()
			in.stop()
			ct.untrackGroup(p.pgid)
			return fmt.Errorf("exec %s: %w", p.cmd.Args[0], err)
		}
		if len(events) == 0 {
			switch {
			case exited:
				if outputsIdle(out.srcs, srcs) {
					left = 0 // a background child holds an output open, silent
				}
			case cancelled && !killed && !time.Now().Before(killAt):
				p.signalGroup(syscall.SIGKILL)
				killed = true // only its exit is awaited now
			}
			continue
		}
		for _, ev := range events {
			if ev.Fd == pidfdToken {
				if cancelled {
					// As process.stop: nothing outlives a stopped process.
					// Before the reap: until then the leader's zombie keeps
					// its pid, the group's and session's id, from reuse, so
					// the kill cannot reach an unrelated group. (A helped
					// process is reaped by the helper; its window stays.)
					p.signalGroup(syscall.SIGKILL)
					if a := p.cmd.SysProcAttr; a != nil && a.Setsid {
						killSession(p.pgid)
					}
				}
				p.reap()
				ep.exited()
				exited = true
				continue
			}
			i := int(ev.Fd)
			if i < 0 || i >= len(srcs) || srcs[i].ended {
				continue
			}
			if err := copyReady(out.dsts[i], srcs[i]); err != nil && errs[i] == nil {
				// The session is gone: keep draining into nothing so the
				// process never blocks on a full pipe.
				errs[i] = fmt.Errorf("copy %s: %w", out.names[i], err)
				out.dsts[i] = io.Discard
			}
			if srcs[i].ended {
				if srcs[i].err != nil && errs[i] == nil {
					errs[i] = fmt.Errorf("copy %s: %w", out.names[i], srcs[i].err)
				}
				ep.ended(out.srcs[i])
				left--
			}
		}
	}
	closeAll(out.srcs)
	var copyErr error
	for _, err := range errs {
		if copyErr == nil {
			copyErr = err
		}
	}
	rs.stop()
	in.stop()
	ct.untrackGroup(p.pgid)
	if cancelled {
		return fmt.Errorf("exec %s: %w", p.cmd.Args[0], context.Cause(ctx))
	}
	if ee := p.exit(); ee != nil {
		return ee
	}
	return copyErr
}

// outputsIdle reports whether every output still open has nothing to read.
func outputsIdle(files []*os.File, srcs []*readyReader) bool {
	for i, f := range files {
		if !srcs[i].ended && pending(f) > 0 {
			return false
		}
	}
	return true
}

// copyReady moves what src has now into dst: through dst's ReadFrom when
// it has one (the transports read straight into their message buffers),
// else through a pooled buffer.
func copyReady(dst io.Writer, src *readyReader) error {
	if rf, ok := dst.(io.ReaderFrom); ok {
		_, err := rf.ReadFrom(src)
		return err
	}
	bp := copyPool.Get()
	defer copyPool.Put(bp)
	for {
		n, rerr := src.Read(*bp)
		if n > 0 {
			if _, err := dst.Write((*bp)[:n]); err != nil {
				return err
			}
		}
		if rerr != nil {
			return nil
		}
	}
}

// readyReader reads what a non-blocking source has now: io.EOF stands for
// "nothing more for now" as well as for the real end, which sets ended
// (and err when the end was an error other than a pty's EIO). Copying
// from it into a session's stream (its ReadFrom: no buffer of ours, the
// transport reads into its message) moves what is there and returns, so
// one goroutine serves every source.
type readyReader struct {
	raw   syscall.RawConn
	ended bool
	err   error
}

func newReadyReader(f *os.File) (*readyReader, error) {
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &readyReader{raw: raw}, nil
}

func (r *readyReader) Read(p []byte) (int, error) {
	if r.ended || len(p) == 0 {
		return 0, io.EOF
	}
	var n int
	var err error
	if cerr := r.raw.Read(func(fd uintptr) bool {
		for {
			n, err = unix.Read(int(fd), p)
			if err != unix.EINTR {
				return true
			}
		}
	}); cerr != nil {
		err = cerr
	}
	switch {
	case n > 0:
		return n, nil
	case err == unix.EAGAIN:
		return 0, io.EOF
	case err == nil:
		r.ended = true
		return 0, io.EOF
	}
	r.ended = true
	if !endOfOutput(err) {
		r.err = err
	}
	return 0, io.EOF
}
