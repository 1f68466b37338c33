package localrt

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/node"
)

// attachQueue is how many output chunks (each at most outChunkSize bytes)
// one attacher may have waiting: with the socket's own buffers, enough to
// ride out a slow moment without letting a frozen attacher cost more than
// half a MiB.
const (
	attachQueue  = 16
	outChunkSize = 32 << 10
)

// defaultAttachStallTimeout is how long an attacher may take no output
// while its queue is full before it is cut (Options.AttachStallTimeout).
const defaultAttachStallTimeout = 5 * time.Second

var chunkPool = sync.Pool{New: func() any { b := make([]byte, outChunkSize); return &b }}

// outChunk is one read of a container's output, copied for one attacher.
type outChunk struct {
	buf    *[]byte
	n      int
	stderr bool
}

// attacher is one Attach session's output side. The run's output pumps
// never write to the session themselves: they put a copy of each chunk on
// the attacher's bounded queue, and the attacher's own writer (writeLoop)
// writes it to the session's streams. So a session that stops reading (a
// frozen terminal, a vanished client whose write is pending) delays the
// container's output only while its queue is full, and at most for the
// stall timeout without progress; then it is cut with node.ErrStalled and
// the other attachers, the log and the process go on.
type attacher struct {
	stdout, stderr io.Writer
	stall          time.Duration

	busy     sync.WaitGroup // pumps offering to it; Add only under run.mu while attached
	q        chan outChunk
	quit     chan struct{} // closed to stop the writer without draining
	flush    chan struct{} // closed to have the writer drain the queue and stop
	finished chan struct{} // closed when the writer has ended
	progress atomic.Uint64 // chunks the writer has finished with

	broken chan struct{} // closed when a write failed or the attacher stalled; err is set before
	once   sync.Once
	err    error
}

func newAttacher(stdout, stderr io.Writer, stall time.Duration) *attacher {
	return &attacher{
		stdout:   stdout,
		stderr:   stderr,
		stall:    stall,
		q:        make(chan outChunk, attachQueue),
		quit:     make(chan struct{}),
		flush:    make(chan struct{}),
		finished: make(chan struct{}),
		broken:   make(chan struct{}),
	}
}

// hasOutput tells whether the session takes any output (a stdin-only
// attacher has no writer).
func (a *attacher) hasOutput() bool { return a.stdout != nil || a.stderr != nil }

// fail breaks the attacher with err; the first failure wins.
func (a *attacher) fail(err error) {
	a.once.Do(func() {
		a.err = err
		close(a.broken)
	})
}

func (a *attacher) isBroken() bool {
	select {
	case <-a.broken:
		return true
	default:
		return false
	}
}

// offer queues a copy of p for the attacher. With the queue full it waits
// while the writer makes progress; after a.stall without any, it breaks the
// attacher with node.ErrStalled and returns, so one attacher never holds
// the container's output for longer than that.
func (a *attacher) offer(p []byte, stderr bool) {
	w := a.stdout
	if stderr {
		w = a.stderr
	}
	if w == nil || a.isBroken() {
		return
	}
	b := chunkPool.Get().(*[]byte)
	c := outChunk{buf: b, n: copy(*b, p), stderr: stderr}
	select {
	case a.q <- c:
		return
	default:
	}
	seen := a.progress.Load()
	t := time.NewTimer(a.stall)
	defer t.Stop()
	for {
		select {
		case a.q <- c:
			return
		case <-a.broken:
		case <-a.quit:
		case <-t.C:
			if now := a.progress.Load(); now != seen {
				seen = now
				t.Reset(a.stall)
				continue
			}
			a.fail(fmt.Errorf("%w: the session took no output for %s", node.ErrStalled, a.stall))
		}
		chunkPool.Put(b)
		return
	}
}

// writeLoop writes queued chunks to the session until it is told to stop
// (quit) or to drain (flush). After a failed write it keeps emptying the
// queue, writing nothing, so no pump waits on a dead session.
func (a *attacher) writeLoop() {
	defer close(a.finished)
	for {
		select {
		case c := <-a.q:
			a.write(c)
		case <-a.quit:
			return
		case <-a.flush:
			for {
				select {
				case c := <-a.q:
					a.write(c)
				case <-a.quit:
					return
				default:
					return
				}
			}
		}
	}
}

func (a *attacher) write(c outChunk) {
	defer chunkPool.Put(c.buf)
	defer a.progress.Add(1)
	if a.isBroken() {
		return
	}
	w := a.stdout
	if c.stderr {
		w = a.stderr
	}
	if _, err := w.Write((*c.buf)[:c.n]); err != nil {
		a.fail(err)
	}
}

// drain has the writer write what is queued and waits for it: until the
// queue is written, ctx ends, or the writer makes no progress for the stall
// timeout (then the attacher breaks with node.ErrStalled). Callers must
// have detached the attacher, so nothing more is queued.
func (a *attacher) drain(ctx context.Context) {
	close(a.flush)
	seen := a.progress.Load()
	t := time.NewTimer(a.stall)
	defer t.Stop()
	for {
		select {
		case <-a.finished:
			return
		case <-a.broken:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if now := a.progress.Load(); now != seen {
				seen = now
				t.Reset(a.stall)
				continue
			}
			a.fail(fmt.Errorf("%w: the session took no output for %s", node.ErrStalled, a.stall))
			return
		}
	}
}

// stop ends the writer without waiting for a write in flight, which the
// caller ends by closing the session's connection (node.Streams); the
// Runtime joins the writer in Close.
func (a *attacher) stop() {
	close(a.quit)
}
