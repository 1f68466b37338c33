package localrt

import (
	"context"
	"fmt"
	"sync"

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

// ring keeps the last len(buf) bytes written to it. It is safe for
// concurrent use; writes copy and never block on I/O.
type ring struct {
	mu   sync.Mutex
	buf  []byte
	next int  // where the next byte goes
	full bool // buf has wrapped at least once
}

func newRing(n int) *ring { return &ring{buf: make([]byte, n)} }

func (t *ring) write(p []byte) {
	if len(p) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
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
	if !t.full {
		return append([]byte(nil), t.buf[:t.next]...)
	}
	return append(append([]byte(nil), t.buf[t.next:]...), t.buf[:t.next]...)
}
