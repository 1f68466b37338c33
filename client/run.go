package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/stream"
)

// runner is one running session. The output copiers, the status reader, the
// resize loop and (when it can be interrupted) the stdin copier are joined
// before run returns.
type runner struct {
	w    *stream.Session
	o    *StreamOptions
	done chan struct{} // closed once every output stream ended

	mu      sync.Mutex // guards outErr
	outErr  error      // first failure of an output copy
	status  []byte
	statErr error
}

// run drives a connected session to its end and closes the connection.
func (c *Client) run(ctx context.Context, w *stream.Session, o *StreamOptions) error {
	stop := context.AfterFunc(ctx, func() { _ = w.Conn.Abort("cancelled") })
	defer stop()
	r := &runner{w: w, o: o, done: make(chan struct{})}
	if w.Resize != nil && o.Sizes != nil {
		// The initial size goes out before any output is read, so a full
		// screen program draws at the right size from its first byte.
		select {
		case s, ok := <-o.Sizes:
			if ok {
				_, _ = w.Resize.Write(resize.Append(nil, s))
			}
		default:
		}
	}
	var out, side sync.WaitGroup
	out.Add(1)
	go r.readStatus(&out)
	if w.Stdout != nil {
		out.Add(1)
		go r.copyOut(&out, o.Stdout, w.Stdout, "stdout")
	}
	if w.Stderr != nil {
		out.Add(1)
		go r.copyOut(&out, o.Stderr, w.Stderr, "stderr")
	}
	if w.Resize != nil && o.Sizes != nil {
		side.Add(1)
		go r.resizeLoop(&side)
	}
	stdinDone := make(chan struct{})
	if w.Stdin != nil {
		go r.copyStdin(stdinDone)
	} else {
		close(stdinDone)
	}
	out.Wait()
	close(r.done)
	joinStdin := interruptRead(o.Stdin)
	_ = w.Conn.Close()
	side.Wait()
	if joinStdin {
		<-stdinDone
		if d, ok := o.Stdin.(interface{ SetReadDeadline(time.Time) error }); ok {
			_ = d.SetReadDeadline(time.Time{})
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.result(w)
}

// result turns the error stream and the ending into Exec's error.
func (r *runner) result(w *stream.Session) error {
	if r.outErr != nil {
		return r.outErr
	}
	if len(r.status) == 0 && (r.statErr != nil || w.Conn.Err() != nil) {
		cause := r.statErr
		if cause == nil {
			cause = w.Conn.Err()
		}
		return fmt.Errorf("%w: %w", ErrNoStatus, cause)
	}
	if len(r.status) == 0 && w.Version.StatusJSON {
		// v4 and v5 servers (the kubelet, the API server, porthole) end
		// every session with a Status, Success included: an error stream
		// that ended empty lost it, however cleanly the connection ended
		// (client-go reads this as success: kubernetes/kubectl#1208).
		return fmt.Errorf("%w: the error stream ended without one", ErrNoStatus)
	}
	return w.DecodeStatus(r.status)
}

// readStatus reads the error stream to its end.
func (r *runner) readStatus(wg *sync.WaitGroup) {
	defer wg.Done()
	r.status, r.statErr = r.w.ReadStatus()
}

// copyOut copies one output stream to its writer. A local write failure
// ends the session: the remote output has nowhere to go.
func (r *runner) copyOut(wg *sync.WaitGroup, dst io.Writer, src stream.Stream, name string) {
	defer wg.Done()
	_, err := io.CopyBuffer(writerOnly{dst}, readerOnly{src}, make([]byte, outputBuffer))
	if err == nil {
		return
	}
	var ce *stream.ConnError
	if errors.As(err, &ce) || errors.Is(err, stream.ErrClosed) {
		return // the ending is judged from the status and Conn.Err
	}
	r.mu.Lock()
	if r.outErr == nil {
		r.outErr = fmt.Errorf("write %s: %w", name, err)
	}
	r.mu.Unlock()
	_ = r.w.Conn.Abort("local " + name + " failed")
}

// readerOnly hides WriterTo/ReaderFrom so io.Copy uses a plain buffer.
type readerOnly struct{ io.Reader }

// writerOnly hides ReaderFrom, so that io.CopyBuffer uses its buffer: the
// dst's own would be smaller (io.Discard reads 8 KiB at a time, an
// *os.File 32 KiB).
type writerOnly struct{ io.Writer }

// outputBuffer is the size of an output stream's copy buffer: a server's
// largest message (64 KiB from porthole, the kubelet and the API server),
// so that a message is read in one piece, most of it straight from the
// socket into the buffer.
const outputBuffer = 64 << 10

// copyStdin copies Stdin to the remote stdin and half-closes it at EOF,
// which the remote process reads as EOF (v5 close signal, SPDY FIN).
func (r *runner) copyStdin(done chan<- struct{}) {
	defer close(done)
	if _, err := io.Copy(r.w.Stdin, r.o.Stdin); err != nil {
		return
	}
	_ = r.w.Stdin.CloseWrite()
}

// resizeLoop sends each size from Sizes until it closes or the session ends.
func (r *runner) resizeLoop(wg *sync.WaitGroup) {
	defer wg.Done()
	var buf []byte
	for {
		select {
		case s, ok := <-r.o.Sizes:
			if !ok {
				return
			}
			buf = resize.Append(buf[:0], s)
			if _, err := r.w.Resize.Write(buf); err != nil {
				return
			}
		case <-r.done:
			return
		}
	}
}

// interruptRead makes a Read blocked on src return, when src has read
// deadlines, and reports whether it could.
func interruptRead(src io.Reader) bool {
	d, ok := src.(interface{ SetReadDeadline(time.Time) error })
	if !ok || src == nil {
		return false
	}
	return d.SetReadDeadline(time.Unix(1, 0)) == nil
}
