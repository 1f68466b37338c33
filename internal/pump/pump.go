// Package pump moves bytes from a reader to a message sink without holding
// memory while the reader is idle.
//
// A streaming session spends most of its life waiting for a process to print
// something. Holding a 64 KiB read buffer per stream during that wait would
// make idle sessions expensive, so Copy first waits until the source is
// readable without any buffer (for sources with a pollable file descriptor,
// such as pipes, ptys and sockets), only then takes a buffer from a shared
// Pool, reads, hands the bytes to the sink and returns the buffer.
package pump

import (
	"io"
	"sync"
	"sync/atomic"
	"syscall"
)

// Pool is a pool of equally sized byte buffers that counts buffers in use, so
// tests can prove that idle copiers hold none. Safe for concurrent use.
type Pool struct {
	size int
	p    sync.Pool
	out  atomic.Int64
	gets atomic.Int64
}

// NewPool returns a pool of size-byte buffers.
func NewPool(size int) *Pool {
	p := &Pool{size: size}
	p.p.New = func() any {
		b := make([]byte, size)
		return &b
	}
	return p
}

// Size is the length of every buffer of the pool.
func (p *Pool) Size() int { return p.size }

// Get takes a buffer of length Size. Return it with Put.
func (p *Pool) Get() *[]byte {
	p.out.Add(1)
	p.gets.Add(1)
	b := p.p.Get().(*[]byte)
	*b = (*b)[:p.size]
	return b
}

// Put returns a buffer taken with Get.
func (p *Pool) Put(b *[]byte) {
	p.out.Add(-1)
	p.p.Put(b)
}

// InUse is the number of buffers taken and not yet returned.
func (p *Pool) InUse() int64 { return p.out.Load() }

// Gets is the number of Get calls so far.
func (p *Pool) Gets() int64 { return p.gets.Load() }

// Waiter waits for a source to become readable without reading from it.
// The zero Waiter (a source without a file descriptor) never waits.
type Waiter struct {
	rc       syscall.RawConn
	disabled bool
	poll     func(fd uintptr) bool // w.check, bound once: no allocation per Wait
	parked   bool
	// onWait, when set (tests), runs just before the Waiter parks.
	onWait func()
}

// NewWaiter returns a Waiter for src. Sources with SyscallConn (*os.File,
// *net.TCPConn, *net.UnixConn) wait in the runtime poller; others do not wait.
func NewWaiter(src io.Reader) *Waiter {
	w := &Waiter{}
	if sc, ok := src.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.rc = rc
			w.poll = w.check
		}
	}
	return w
}

// Wait blocks until the source has data, end of file or an error to report.
// A descriptor switched to blocking mode by Fd (creack/pty does that to pty
// masters) stays in the runtime poller and still waits here. Wait returns at
// once (nil) when the descriptor was never pollable, for example an
// os.NewFile of an inherited blocking descriptor: the caller's Read then
// blocks instead, holding its buffer, which is correct, only less frugal.
func (w *Waiter) Wait() error {
	if w.rc == nil || w.disabled {
		return nil
	}
	w.parked = false
	if err := w.rc.Read(w.poll); err != nil {
		// Not pollable, or closed: let Read report what the source has.
		w.disabled = true
	}
	return nil
}

// check is the RawConn callback: true lets Read proceed, false parks the
// goroutine in the runtime poller until the descriptor is ready.
func (w *Waiter) check(fd uintptr) bool {
	if readable(int(fd)) {
		return true
	}
	if !w.parked && w.onWait != nil {
		w.onWait()
	}
	w.parked = true
	return false
}

// Copy reads src until EOF or error and hands each chunk to send. Every read
// goes into a buffer from pool at offset headroom (the sink's header bytes,
// such as a WebSocket channel byte) and reads at most max bytes; send gets the
// buffer from offset 0 to the end of the data and must not keep it. Between
// reads Copy holds no buffer while src has no data (see Waiter). Copy returns
// the number of payload bytes read and nil at EOF, like io.Copy.
func Copy(src io.Reader, pool *Pool, headroom, max int, send func(msg []byte) error) (int64, error) {
	return copyWith(NewWaiter(src), src, pool, headroom, max, send)
}

func copyWith(w *Waiter, src io.Reader, pool *Pool, headroom, max int, send func([]byte) error) (int64, error) {
	if max > pool.Size()-headroom {
		max = pool.Size() - headroom
	}
	var total int64
	wait := true
	for {
		if wait {
			if err := w.Wait(); err != nil {
				return total, err
			}
		}
		bp := pool.Get()
		n, rerr := src.Read((*bp)[headroom : headroom+max])
		var serr error
		if n > 0 {
			serr = send((*bp)[:headroom+n])
		}
		pool.Put(bp)
		total += int64(n)
		if serr != nil {
			return total, serr
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
		// A full read suggests more is queued: read again without polling.
		wait = n < max
	}
}
