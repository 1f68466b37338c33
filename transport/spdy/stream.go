package spdy

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/moby/spdystream"

	"github.com/porthole/porthole/stream"
)

// Stream is one SPDY stream. It implements stream.Stream, io.ReaderFrom and
// io.WriterTo.
// Read and Write may run concurrently with each other, each from one
// goroutine at a time; CloseWrite and Reset may be called from any goroutine.
type Stream struct {
	c       *Conn
	st      *spdystream.Stream
	created bool // opened by us (Open), not by the peer

	// replied is closed when an opened stream got SYN_REPLY (replyErr nil),
	// RST_STREAM, or the connection ended first.
	replied  chan struct{}
	replyErr error

	wclosed   atomic.Bool // CloseWrite or Reset called
	isReset   atomic.Bool // Reset called (by the caller or by Close)
	peerEnded atomic.Bool // the peer sent FIN or RST_STREAM
	state     atomic.Uint32
}

// Bits of Stream.state: a stream leaves its Conn's table (and stops counting
// against MaxStreams) once both sides are done with it.
const (
	localDone  = 1 << 0 // CloseWrite or Reset
	remoteDone = 1 << 1 // spdystream closed the read side: peer FIN/RST, Reset, or connection end
)

func newStream(c *Conn, st *spdystream.Stream, created bool) *Stream {
	s := &Stream{c: c, st: st, created: created}
	if created {
		s.replied = make(chan struct{})
	}
	return s
}

// ID is the SPDY stream ID: odd when the client opened it.
func (s *Stream) ID() uint32 { return s.st.Identifier() }

// Headers are the headers of the SYN_STREAM that opened the stream
// (streamtype, port, requestid...). Names travel in lower case and are
// stored canonicalised (Get("streamtype") finds them). Do not modify.
func (s *Stream) Headers() http.Header { return s.st.Headers() }

// Read reads the peer's data. It returns io.EOF after the peer's FIN and
// also after the peer's RST_STREAM (Kubernetes servers end every stream with
// RST_STREAM CANCEL, so a reset is an end, not an error); stream.ErrClosed
// after a local Reset or Close; and a *stream.ConnError when the connection
// failed before the peer ended this stream.
//
// While Read is not called, the peer's next DATA frame for this stream waits
// in spdystream's worker and blocks the frames queued behind it (package doc).
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.st.Read(p)
	return n, s.readErr(err)
}

// readErr maps spdystream's read error: its io.EOF covers a peer's FIN or
// RST_STREAM, a local Reset and a failed connection alike.
func (s *Stream) readErr(err error) error {
	if err != io.EOF {
		return err
	}
	switch {
	case s.peerEnded.Load():
		return io.EOF
	case s.isReset.Load():
		return stream.ErrClosed
	case s.c.wire.readFailed() != nil:
		return &stream.ConnError{Op: "read frame", Err: io.ErrUnexpectedEOF}
	default:
		return io.EOF // the peer said GOAWAY, or opened the stream with FIN
	}
}

// WriteTo copies the peer's data to w until EOF (io.Copy uses it) and
// returns nil at EOF. Each DATA frame's own bytes, as spdystream received
// them, are written to w: nothing is copied, and no buffer is held while the
// peer is quiet (io.Copy's loop would hold 32 KiB per idle forwarded
// connection).
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		b, err := s.st.ReadData()
		if errors.Is(err, spdystream.ErrUnreadPartialData) {
			// A Read took part of a frame; finish that frame through Read.
			var buf [4 << 10]byte
			n, rerr := s.Read(buf[:])
			b, err = buf[:n], rerr
		}
		if len(b) > 0 {
			n, werr := w.Write(b)
			total += int64(n)
			if werr != nil {
				return total, werr
			}
		}
		if err != nil {
			if err = s.readErr(err); err == io.EOF {
				return total, nil
			}
			return total, err
		}
	}
}

// Write sends p as one DATA frame, or several of at most 32 KiB. It blocks
// while TCP does (backpressure); the peer cannot push back per stream.
//
// The frames go to the wire directly, not through spdystream's WriteData,
// which allocates per frame, writes the header in two binary.Writes and
// wakes its idle monitor goroutine after every frame. Nothing is lost by
// that: WriteData only waits for the SYN_REPLY, which every Stream has by
// the time Open or Accept returns it.
func (s *Stream) Write(p []byte) (int, error) {
	if s.wclosed.Load() {
		return 0, stream.ErrClosed
	}
	written := 0
	for len(p) > 0 {
		k := min(len(p), s.c.frameSize)
		if s.wclosed.Load() {
			return written, stream.ErrClosed // Reset while Write runs
		}
		if err := s.c.wire.writeData(s.ID(), 0, p[:k]); err != nil {
			return written, s.writeErr("write frame", err)
		}
		written += k
		p = p[k:]
	}
	return written, nil
}

// CloseWrite sends an empty DATA frame with FIN: the peer reads EOF, and
// this side may go on reading. Repeated calls, and a call after the peer
// reset the stream, return nil.
func (s *Stream) CloseWrite() error {
	if s.isReset.Load() {
		return stream.ErrClosed
	}
	if s.wclosed.Swap(true) {
		return nil
	}
	err := s.st.Close()
	s.done(localDone)
	if errors.Is(err, spdystream.ErrWriteClosedStream) {
		return nil
	}
	if err != nil {
		return s.writeErr("close stream", err)
	}
	return nil
}

// Reset sends RST_STREAM CANCEL, unless this side already sent FIN, and
// closes the stream both ways: a blocked Read returns stream.ErrClosed.
func (s *Stream) Reset() error {
	err := s.reset()
	if err != nil {
		return s.writeErr("reset stream", err)
	}
	return nil
}

func (s *Stream) reset() error {
	s.isReset.Store(true)
	s.wclosed.Store(true)
	err := s.st.Reset()
	s.done(localDone)
	if !s.created {
		s.done(remoteDone) // a reset ends both sides; no watch() sees it
	}
	return err
}

func (s *Stream) writeErr(op string, err error) error {
	if s.isReset.Load() {
		return stream.ErrClosed
	}
	return &stream.ConnError{Op: op, Err: err}
}

// done records that one side finished; the second one releases the stream.
func (s *Stream) done(bit uint32) {
	for {
		old := s.state.Load()
		if old&bit != 0 {
			return
		}
		if s.state.CompareAndSwap(old, old|bit) {
			if old|bit == localDone|remoteDone {
				s.c.unregister(s)
			}
			return
		}
	}
}

// watch runs for the life of a stream we opened. For a stream we opened it first
// waits for SYN_REPLY or RST_STREAM: spdystream delivers RST_STREAM for an
// unreplied stream by a blocking send, so someone must be waiting or that
// worker (and with it the connection) stalls. Then it takes HEADERS frames
// off the stream and drops them (spdystream hands those over synchronously
// too), until spdystream closes the stream's read side, which tells us the
// peer is done with it.
func (s *Stream) watch() {
	defer s.c.wg.Done()
	if s.created {
		s.awaitReply()
	}
	for {
		if _, err := s.st.ReceiveHeader(); err != nil {
			break
		}
	}
	s.done(remoteDone)
}

func (s *Stream) awaitReply() {
	defer close(s.replied)
	for {
		err := s.st.WaitTimeout(replyPoll)
		switch {
		case err == nil:
			return
		case errors.Is(err, spdystream.ErrReset):
			s.replyErr = ErrRefused
			return
		}
		select {
		case <-s.c.served: // no worker left to deliver a reply
			s.replyErr = s.c.Err()
			if s.replyErr == nil {
				s.replyErr = stream.ErrClosed
			}
			return
		default:
		}
	}
}
