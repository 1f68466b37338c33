// Package stream is the seam between the wire transports and the roles that
// use them. A transport (transport/websocket, transport/spdy) turns one
// upgraded HTTP connection into a Conn carrying several Streams; the node,
// the client and the gateway speak only in these terms.
//
// Errors: a *Error ends one stream; a *ConnError ends the whole connection.
package stream

import (
	"errors"
	"fmt"
	"io"
)

// Stream is one stream of a multiplexed connection: a WebSocket channel or a
// SPDY stream. Read and Write may be called concurrently with each other, but
// each by one goroutine at a time.
type Stream interface {
	io.Reader
	// Write sends p as one message (WebSocket) or one DATA frame (SPDY),
	// splitting only what exceeds the transport's maximum. It blocks while the
	// peer does not read (backpressure).
	io.Writer
	// CloseWrite half-closes: the peer reads EOF, this side may still read.
	// WebSocket: the v5 close signal from a client, nothing from a server;
	// SPDY: an empty DATA frame with FIN.
	CloseWrite() error
	// Reset aborts the stream in both directions.
	Reset() error
}

// Conn is one upgraded connection.
type Conn interface {
	// Protocol is the negotiated subprotocol.
	Protocol() string
	// Close ends the connection gracefully: everything written is sent, then
	// the WebSocket close 1000 or SPDY GOAWAY, and the socket is closed only
	// once the peer has read what was sent (or a linger deadline passes).
	// Close joins every goroutine the Conn started.
	Close() error
	// Abort ends the connection at once, with reason for the peer where the
	// wire can carry it (WebSocket close 1002/1008/1009).
	Abort(reason string) error
	// Done is closed when the connection has ended, by either side.
	Done() <-chan struct{}
	// Err tells why Done closed: nil after Close, else a *ConnError.
	Err() error
}

// Error ends one stream of a connection that goes on.
type Error struct {
	Stream string // "stdin", "channel 0", "port 8080 data"...
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("stream %s: %v", e.Stream, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// ConnError ends the whole connection.
type ConnError struct {
	Op  string // what was being done: "read frame", "decode close signal"
	Err error
}

func (e *ConnError) Error() string { return fmt.Sprintf("connection %s: %v", e.Op, e.Err) }
func (e *ConnError) Unwrap() error { return e.Err }

// ErrClosed is returned by operations on a connection or stream that was closed locally.
var ErrClosed = errors.New("stream closed")

// ErrPeerGone ends a connection whose peer closed or reset its socket while
// this side was not reading it (a consumer did not take its data).
var ErrPeerGone = errors.New("peer went away while its data waited")
