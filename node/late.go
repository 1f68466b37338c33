package node

import (
	"errors"
	"io"

	"github.com/porthole/porthole/stream"
)

// errNoStreams: the session's streams never came (the client failed to
// open them in time, or went away meanwhile).
var errNoStreams = errors.New("the session's streams were not set up")

// lateStreams are the streams of a SPDY exec that runs while the client is
// still opening them. client-go opens one stream after another, each only
// after the SYN_REPLY of the one before, so waiting for the full set before
// spawning puts every round trip ahead of the process start. Started at the
// upgrade instead (as over WebSocket, where the upgrade is all the setup
// there is; authorization is done by then), the process overlaps them: its
// output waits in its pipes until its stream exists (backpressure, nothing
// lost), and its stdin is fed once the stdin stream exists.
type lateStreams struct {
	ready chan struct{} // closed once ss or err is set
	ss    *stream.Session
	err   error
}

func newLateStreams() *lateStreams { return &lateStreams{ready: make(chan struct{})} }

// set records the setup's outcome, once.
func (l *lateStreams) set(ss *stream.Session, err error) {
	l.ss, l.err = ss, err
	if ss == nil && err == nil {
		l.err = errNoStreams
	}
	close(l.ready)
}

// wait returns the streams once set up. It needs no context: the setup
// itself ends within the stream creation timeout or with the connection.
func (l *lateStreams) wait() (*stream.Session, error) {
	<-l.ready
	return l.ss, l.err
}

// lateWriter writes to one of the streams once they exist.
type lateWriter struct {
	l    *lateStreams
	pick func(*stream.Session) stream.Stream
}

func (w lateWriter) dst() (io.Writer, error) {
	ss, err := w.l.wait()
	if err != nil {
		return nil, err
	}
	if st := w.pick(ss); st != nil {
		return st, nil
	}
	return nil, errNoStreams
}

func (w lateWriter) Write(p []byte) (int, error) {
	dst, err := w.dst()
	if err != nil {
		return 0, err
	}
	return dst.Write(p)
}

// ReadFrom keeps the stream's own ReadFrom (the transports read straight
// into their frame buffers) once the stream exists.
func (w lateWriter) ReadFrom(r io.Reader) (int64, error) {
	dst, err := w.dst()
	if err != nil {
		return 0, err
	}
	if rf, ok := dst.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{dst}, r)
}

// lateReader reads the stdin stream once it exists.
type lateReader struct{ l *lateStreams }

func (r lateReader) Read(p []byte) (int, error) {
	ss, err := r.l.wait()
	if err != nil {
		return 0, err
	}
	if ss.Stdin == nil {
		return 0, io.EOF
	}
	return ss.Stdin.Read(p)
}
