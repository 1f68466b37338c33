package localrt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/porthole/porthole/node"
)

// logTail is how many bytes of each run's output a container keeps.
const logTail = 64 << 10

// Logs returns the kept output (the last logTail bytes; stdout and stderr
// interleaved as read; a tty's output as the terminal produced it) of
// container c's latest run, or with previous of the run before. An unknown
// pod or container, or no previous run, is an error wrapping
// node.ErrNotFound; a container that has not run yet yields no bytes.
func (r *Runtime) Logs(_ context.Context, c node.Container, previous bool) ([]byte, error) {
	run, err := r.LogRun(c, previous)
	if errors.Is(err, node.ErrNotStarted) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data, _, _, _, _ := run.Read(0)
	return data, nil
}

// LogRun returns the kept output of container c's latest run, or with
// previous of the run before (node.LogRuntime).
func (r *Runtime) LogRun(c node.Container, previous bool) (node.LogRun, error) {
	ct, err := r.lookupContainer(c)
	if err != nil {
		return nil, err
	}
	ct.mu.Lock()
	t := ct.log
	if previous {
		t = ct.prevLog
	}
	ct.mu.Unlock()
	if t == nil {
		if previous {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found: %w", c.Name, c.PodRef.Name, node.ErrNotFound)
		}
		return nil, fmt.Errorf("container %q in pod %q is waiting to start: %w", c.Name, c.PodRef.Name, node.ErrNotStarted)
	}
	return t, nil
}

// Read implements node.LogRun.
func (t *ring) Read(from int64) ([]byte, []node.LineStart, int64, <-chan struct{}, bool) {
	return t.read(from)
}

// ring keeps the last len(buf) bytes written to it, when each write came,
// and how many bytes were ever written. It is safe for concurrent use;
// writes copy and never block on I/O, and cost no more per byte than the
// copy: where lines begin is found only when the log is read.
type ring struct {
	mu     sync.Mutex
	buf    []byte
	next   int  // where the next byte goes
	full   bool // buf has wrapped at least once
	total  int64
	stamps []stamp // the writes of kept bytes from stamps[head] on, oldest first
	head   int
	// changed is closed by the next write or end; nil while nobody waits,
	// so writes allocate nothing for readers that are not there.
	changed chan struct{}
	ended   bool
	now     func() time.Time
}

// stamp is when the write that began at off came.
type stamp struct {
	off int64
	at  time.Time
}

func newRing(n int) *ring {
	return &ring{buf: make([]byte, n), now: time.Now}
}

func (t *ring) write(p []byte) {
	if len(p) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stamps = append(t.stamps, stamp{off: t.total, at: t.now()})
	t.total += int64(len(p))
	t.writeBuf(p)
	// Forget the writes that left the buffer but the one the oldest kept
	// byte belongs to; compact once half the slice is forgotten.
	oldest := t.total - int64(t.kept())
	for t.head+1 < len(t.stamps) && t.stamps[t.head+1].off <= oldest {
		t.head++
	}
	if t.head > len(t.stamps)/2 {
		t.stamps = append(t.stamps[:0], t.stamps[t.head:]...)
		t.head = 0
	}
	t.wake()
}

// end marks the run's output complete and wakes the readers.
func (t *ring) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
	t.wake()
}

func (t *ring) wake() {
	if t.changed != nil {
		close(t.changed)
		t.changed = nil
	}
}

func (t *ring) kept() int {
	if t.full {
		return len(t.buf)
	}
	return t.next
}

func (t *ring) writeBuf(p []byte) {
	if len(p) >= len(t.buf) {
		copy(t.buf, p[len(p)-len(t.buf):])
		t.next, t.full = 0, true
		return
	}
	n := copy(t.buf[t.next:], p)
	if n < len(p) {
		copy(t.buf, p[n:])
		t.full = true
	}
	t.next = (t.next + len(p)) % len(t.buf)
	if t.next == 0 && n == len(p) {
		t.full = true
	}
}

// closedChan is what read returns once the run has ended: nothing more
// will come.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (t *ring) read(from int64) ([]byte, []node.LineStart, int64, <-chan struct{}, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := t.snapshot()
	oldest := t.total - int64(len(all))
	from = max(from, oldest)
	// Lines begin at the oldest kept byte (perhaps mid-line, its start
	// gone) and after every newline; each has the time of the write its
	// first byte came in. Those from the line holding from on are returned.
	var lines []node.LineStart
	k := t.head
	add := func(off int64) {
		for k+1 < len(t.stamps) && t.stamps[k+1].off <= off {
			k++
		}
		if len(lines) > 0 && lines[len(lines)-1].Offset <= from && off <= from {
			lines = lines[:0]
		}
		lines = append(lines, node.LineStart{Offset: off, Time: t.stamps[k].at})
	}
	if len(all) > 0 {
		add(oldest)
	}
	for i := 0; ; {
		j := bytes.IndexByte(all[i:], '\n')
		if j < 0 || i+j+1 >= len(all) {
			break
		}
		i += j + 1
		add(oldest + int64(i))
	}
	changed := closedChan
	if !t.ended {
		if t.changed == nil {
			t.changed = make(chan struct{})
		}
		changed = t.changed
	}
	return all[from-oldest:], lines, t.total, changed, t.ended
}

func (t *ring) snapshot() []byte {
	if !t.full {
		return append([]byte(nil), t.buf[:t.next]...)
	}
	return append(append([]byte(nil), t.buf[t.next:]...), t.buf[:t.next]...)
}
