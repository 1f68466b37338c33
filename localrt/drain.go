package localrt

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// outputs copies an exec'd process's output files (pipes or a pty master)
// into the caller's writers, one goroutine per file, and decides when the
// copying is over once the process has exited.
type outputs struct {
	names []string
	dsts  []io.Writer
	srcs  []*os.File
	errs  []error
	left  atomic.Int32
	done  chan struct{} // closed when every copier has ended
}

// add registers src to be copied into dst (io.Discard when nil).
func (o *outputs) add(name string, dst io.Writer, src *os.File) {
	if dst == nil {
		dst = io.Discard
	}
	o.names = append(o.names, name)
	o.dsts = append(o.dsts, dst)
	o.srcs = append(o.srcs, src)
}

// start starts the copiers. Whoever calls start must call finish.
func (o *outputs) start() {
	o.done = make(chan struct{})
	o.errs = make([]error, len(o.srcs))
	o.left.Store(int32(len(o.srcs)))
	if len(o.srcs) == 0 {
		close(o.done)
	}
	for i := range o.srcs {
		go o.copyOutput(i)
	}
}

// copyOutput copies one source until it ends. If the writer fails (the
// client is gone), the source is still drained into io.Discard so that the
// process never blocks on a full pipe while its exit is awaited.
func (o *outputs) copyOutput(i int) {
	defer func() {
		if o.left.Add(-1) == 0 {
			close(o.done)
		}
	}()
	_, err := copyFile(o.dsts[i], o.srcs[i])
	if endOfOutput(err) {
		return
	}
	o.errs[i] = fmt.Errorf("copy %s: %w", o.names[i], err)
	copyFile(io.Discard, o.srcs[i])
}

// finish is called once the process has exited: it waits for the copiers
// to end (see waitDrained), closes the sources and returns the first copy
// error.
func (o *outputs) finish(grace time.Duration) error {
	waitDrained(o.done, o.srcs, grace)
	var first error
	for i, f := range o.srcs {
		f.Close()
		if first == nil {
			first = o.errs[i]
		}
	}
	return first
}
