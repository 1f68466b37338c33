package localrt

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/porthole/porthole/node"
)

// LogTail is how many bytes of each run's output a container keeps.
const LogTail = 64 << 10

// Logs returns the last LogTail bytes of container c's output (stdout and
// stderr interleaved as read; a tty's output as the terminal produced it)
// of its latest run, or with previous of the run before. An unknown pod or
// container is an error wrapping node.ErrNotFound; a container without
// such a run yields no bytes.
func (r *Runtime) Logs(ctx context.Context, c node.Container, previous bool) ([]byte, error) {
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
			return nil, fmt.Errorf("previous terminated container %q in pod %q: %w", c.Name, c.PodRef.Name, node.ErrNotFound)
		}
		return nil, nil
	}
	return t.bytes(), nil
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

// ring keeps the last len(buf) bytes written to it, the time each kept line
// began, and how many bytes were ever written. It is safe for concurrent
// use; writes copy and never block on I/O. Readers wait on changed.
type ring struct {
	mu      sync.Mutex
	buf     []byte
	next    int  // where the next byte goes
	full    bool // buf has wrapped at least once
	total   int64
	lines   []node.LineStart // starts of kept lines, oldest first
	atStart bool             // the next byte begins a line
	changed chan struct{}
	ended   bool
	now     func() time.Time
}

func newRing(n int) *ring {
	return &ring{buf: make([]byte, n), atStart: true, changed: make(chan struct{}), now: time.Now}
}

func (t *ring) write(p []byte) {
	if len(p) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for i, b := range p {
		if t.atStart {
			t.lines = append(t.lines, node.LineStart{Offset: t.total + int64(i), Time: now})
		}
		t.atStart = b == '\n'
	}
	t.total += int64(len(p))
	t.writeBuf(p)
	// Forget the starts of lines that left the buffer, keeping the one the
	// oldest kept byte belongs to.
	oldest := t.total - int64(t.kept())
	k := 0
	for k+1 < len(t.lines) && t.lines[k+1].Offset <= oldest {
		k++
	}
	if k > 0 {
		t.lines = append(t.lines[:0], t.lines[k:]...)
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// end marks the run's output complete and wakes the readers.
func (t *ring) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.ended {
		t.ended = true
		close(t.changed)
		t.changed = make(chan struct{})
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

func (t *ring) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snapshot()
}

func (t *ring) read(from int64) ([]byte, []node.LineStart, int64, <-chan struct{}, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := t.snapshot()
	oldest := t.total - int64(len(all))
	from = max(from, oldest)
	// The start of the line from falls in, then those after it.
	i := 0
	for i+1 < len(t.lines) && t.lines[i+1].Offset <= from {
		i++
	}
	lines := slices.Clone(t.lines[i:])
	return all[from-oldest:], lines, t.total, t.changed, t.ended
}

func (t *ring) snapshot() []byte {
	if !t.full {
		return append([]byte(nil), t.buf[:t.next]...)
	}
	return append(append([]byte(nil), t.buf[t.next:]...), t.buf[:t.next]...)
}
