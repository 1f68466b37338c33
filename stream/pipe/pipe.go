// Package pipe joins the client's and the server's side of an exec or
// attach session inside one process, without a wire: a gateway bridging a
// session to the node it runs beside (porthole serve's resumable sessions)
// would otherwise frame every byte onto a loopback socket and read it back.
//
// Each stream is a bounded queue (queue.go): a Write waits while
// queueSize bytes wait for the reader (backpressure), and a graceful end
// lets the reader take every queued byte before its EOF.
package pipe

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

// errReset is what a peer's Read or Write gets once a stream was reset.
var errReset = errors.New("stream reset")

// Session returns the two sides of a session of version v with the
// streams want implies: stdin and resize go from client to server, the
// rest from server to client. The server's side half-closes its outputs
// (Session.HalfClose), so the client reads each to its EOF. Both sides
// share one Conn: closing or aborting either ends both.
func Session(v protocol.Version, want protocol.Want) (client, server *stream.Session) {
	c := &conn{protocol: v.Name, done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	client = &stream.Session{Conn: c, Version: v, Want: want}
	server = &stream.Session{Conn: c, Version: v, Want: want, HalfClose: true}
	for _, st := range v.Streams(want) {
		q := newQueue()
		reader, writer := &end{c: c, q: q}, &end{c: c, q: q, writes: true}
		c.ends = append(c.ends, reader, writer)
		from, to := server, client // output: the server writes
		if st.Type == protocol.StreamStdin || st.Type == protocol.StreamResize {
			from, to = client, server
		}
		*from.Slot(st.Type) = writer
		*to.Slot(st.Type) = reader
	}
	return client, server
}

// end is one side's end of one stream's queue: it reads or it writes.
type end struct {
	c      *conn
	q      *queue
	writes bool
}

// Read reads the peer's writes; on a stream this side writes it is at its
// end at once.
func (e *end) Read(p []byte) (int, error) {
	if e.writes {
		return 0, io.EOF
	}
	return e.q.read(p)
}

// Write returns once all of p is queued for the peer.
func (e *end) Write(p []byte) (int, error) {
	if !e.writes {
		return 0, stream.ErrClosed
	}
	return e.q.write(p)
}

// CloseWrite ends what this side writes: the peer reads EOF after it.
func (e *end) CloseWrite() error {
	if e.writes {
		e.q.closeWrite(nil)
	}
	return nil
}

// Reset fails both sides' later reads and writes of the stream.
func (e *end) Reset() error {
	e.q.closeWrite(errReset)
	e.q.closeRead(errReset)
	return nil
}

// conn is the session's connection, shared by both sides.
type conn struct {
	protocol string
	ends     []*end
	ctx      context.Context
	cancel   context.CancelFunc

	once sync.Once
	done chan struct{}
	err  error // set before done closes
}

func (c *conn) Protocol() string { return c.protocol }

// Close ends the session for both sides: every stream's writer ends, so
// its reader gets EOF after the bytes queued, and a write still waiting
// fails.
func (c *conn) Close() error {
	c.end(nil)
	return nil
}

// Abort ends the session for both sides with reason: queued bytes are
// dropped, and reads and writes under way, and all later ones, fail with
// it.
func (c *conn) Abort(reason string) error {
	c.end(&stream.ConnError{Op: "abort", Err: errors.New(reason)})
	return nil
}

func (c *conn) end(err error) {
	c.once.Do(func() {
		c.err = err
		for _, e := range c.ends {
			if !e.writes {
				continue
			}
			if err == nil {
				e.q.closeWrite(nil)
			} else {
				e.q.closeWrite(err)
				e.q.closeRead(err)
			}
		}
		close(c.done)
		c.cancel()
	})
}

func (c *conn) Done() <-chan struct{} { return c.done }

// Err is nil after Close, the *stream.ConnError after Abort.
func (c *conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Context ends with the connection (the node's session watches it).
func (c *conn) Context() context.Context { return c.ctx }

var _ stream.Conn = (*conn)(nil)
