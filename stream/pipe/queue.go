package pipe

import (
	"io"
	"sync"

	"github.com/porthole/porthole/stream"
)

// queueSize bounds the bytes a stream holds between its writer and its
// reader. Why a buffer at all: with a synchronous pipe the producer waits
// for the consumer on every chunk, so the process's output, the gateway's
// replay buffer and the client's socket took turns instead of overlapping
// (1 GiB through serve took 3.5-3.9 s against 2.9 s over a unix socket,
// whose buffer decouples them). A socket's buffer is of this order.
const queueSize = 256 << 10

// rings are the queues' storage, taken when data arrives and given back
// when the queue drains: an idle stream holds none.
var rings = sync.Pool{New: func() any { b := make([]byte, queueSize); return &b }}

// queue is one stream's bytes in flight, from one writer to one reader:
// a ring of queueSize, written until full (then writes wait: backpressure),
// read until empty.
type queue struct {
	mu       sync.Mutex
	readable sync.Cond
	writable sync.Cond
	ring     *[]byte // nil while empty
	start, n int
	wdone    bool // the writer ended: the reader gets werr (nil: EOF) once empty
	werr     error
	rdone    bool // the reader ended: writes fail with rerr, the bytes are dropped
	rerr     error
}

func newQueue() *queue {
	q := &queue{}
	q.readable.L, q.writable.L = &q.mu, &q.mu
	return q
}

// write queues p, waiting while the queue is full; it returns early only
// when either end closed.
func (q *queue) write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	written := 0
	for len(p) > 0 {
		for q.n == queueSize && !q.rdone && !q.wdone {
			q.writable.Wait()
		}
		switch {
		case q.rdone:
			return written, q.rerr
		case q.wdone:
			return written, stream.ErrClosed
		}
		if q.ring == nil {
			q.ring, q.start = rings.Get().(*[]byte), 0
		}
		ring := *q.ring
		end := (q.start + q.n) % queueSize
		k := copy(ring[end:min(queueSize, end+queueSize-q.n)], p)
		q.n += k
		written += k
		p = p[k:]
		q.readable.Signal()
	}
	return written, nil
}

// read takes what is queued, waiting while nothing is; at the writer's end
// it returns werr (io.EOF for a clean end) once the queue is empty.
func (q *queue) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && !q.wdone && !q.rdone {
		q.readable.Wait()
	}
	switch {
	case q.rdone:
		return 0, q.rerr
	case q.n == 0:
		if q.werr != nil {
			return 0, q.werr
		}
		return 0, io.EOF
	}
	ring := *q.ring
	k := copy(p, ring[q.start:min(queueSize, q.start+q.n)])
	q.start = (q.start + k) % queueSize
	q.n -= k
	if q.n == 0 {
		rings.Put(q.ring)
		q.ring = nil
	}
	q.writable.Signal()
	return k, nil
}

// closeWrite ends the writer's side with err (nil: the reader gets EOF
// after the queued bytes).
func (q *queue) closeWrite(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.wdone {
		q.wdone, q.werr = true, err
	}
	q.readable.Broadcast()
	q.writable.Broadcast()
}

// closeRead ends the reader's side: queued bytes are dropped, writes fail
// with err and so do later reads.
func (q *queue) closeRead(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.rdone {
		q.rdone, q.rerr = true, err
	}
	if q.ring != nil {
		rings.Put(q.ring)
		q.ring, q.n = nil, 0
	}
	q.readable.Broadcast()
	q.writable.Broadcast()
}
