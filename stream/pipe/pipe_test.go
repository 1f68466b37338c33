package pipe

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

func v5(t *testing.T) protocol.Version {
	t.Helper()
	v, ok := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	if !ok {
		t.Fatal("no v5")
	}
	return v
}

// TestStreams: each stream the request implies exists on both sides, in
// its direction, and carries bytes and the half-close; the others are nil.
func TestStreams(t *testing.T) {
	c, s := Session(v5(t), protocol.Want{Stdin: true, Stdout: true, TTY: true})
	if c.Stderr != nil || s.Stderr != nil {
		t.Fatal("a tty session has a stderr stream")
	}
	if !s.HalfClose || c.HalfClose {
		t.Fatalf("HalfClose: server %v, client %v; want true, false", s.HalfClose, c.HalfClose)
	}
	for _, tc := range []struct {
		name     string
		from, to stream.Stream
	}{
		{"stdin", c.Stdin, s.Stdin},
		{"resize", c.Resize, s.Resize},
		{"stdout", s.Stdout, c.Stdout},
		{"error", s.Error, c.Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			go func() {
				tc.from.Write([]byte("hello"))
				tc.from.CloseWrite()
			}()
			b, err := io.ReadAll(tc.to)
			if err != nil || string(b) != "hello" {
				t.Fatalf("read %q, %v; want hello and EOF", b, err)
			}
			if _, err := tc.to.Write([]byte("x")); !errors.Is(err, stream.ErrClosed) {
				t.Fatalf("write against the stream's direction: %v, want ErrClosed", err)
			}
		})
	}
}

// TestBackpressure: a write returns only once all but queueSize bytes of
// it were read, and the reader gets every byte in order.
func TestBackpressure(t *testing.T) {
	c, s := Session(v5(t), protocol.Want{Stdout: true})
	data := make([]byte, 3*queueSize+1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	wrote := make(chan struct{})
	go func() {
		s.Stdout.Write(data)
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("the write returned before anything was read")
	case <-time.After(100 * time.Millisecond):
	}
	got := make([]byte, len(data)-queueSize)
	if n, err := io.ReadFull(c.Stdout, got); n != len(got) || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	<-wrote
	rest := make([]byte, queueSize)
	if n, err := io.ReadFull(c.Stdout, rest); n != len(rest) || err != nil {
		t.Fatalf("read the queued rest: %d, %v", n, err)
	}
	if !bytes.Equal(append(got, rest...), data) {
		t.Fatal("the bytes read are not the bytes written")
	}
}

// TestClose: a graceful close lets the peer read what was written to its
// EOF, fails writes still waiting, and ends both sides' Done and Context
// with no error.
func TestClose(t *testing.T) {
	c, s := Session(v5(t), protocol.Want{Stdin: true, Stdout: true})
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Stdin.Write(make([]byte, queueSize+1)) // never read: waits
		blocked <- err
	}()
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c.Stdout)
		read <- b
	}()
	s.Stdout.Write([]byte("out"))
	// The stdin write has filled the queue and waits for room.
	q := s.Stdin.(*end).q
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		q.mu.Lock()
		full := q.n == queueSize
		q.mu.Unlock()
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stdin write never filled the queue")
		}
	}
	s.Conn.Close()
	if b := <-read; string(b) != "out" {
		t.Fatalf("client read %q, want out then EOF", b)
	}
	if err := <-blocked; !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("a write waiting at the close: %v, want ErrClosed", err)
	}
	select {
	case <-c.Conn.Done():
	default:
		t.Fatal("the client's Done is open after the server closed")
	}
	if c.Conn.Err() != nil || s.Conn.Err() != nil {
		t.Fatalf("Err after Close: %v, %v", c.Conn.Err(), s.Conn.Err())
	}
	if s.Conn.(*conn).Context().Err() == nil {
		t.Fatal("the session's context is not done after the close")
	}
}

// TestAbort: an abort fails the peer's reads and both sides' Err.
func TestAbort(t *testing.T) {
	c, s := Session(v5(t), protocol.Want{Stdout: true})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Stdout.Read(make([]byte, 10))
		errc <- err
	}()
	c.Conn.Abort("client went away")
	var ce *stream.ConnError
	if err := <-errc; !errors.As(err, &ce) {
		t.Fatalf("read at the abort: %v, want a *stream.ConnError", err)
	}
	if n, err := c.Stdout.Read(make([]byte, 10)); n != 0 || !errors.As(err, &ce) {
		t.Fatalf("read after the abort: %d, %v", n, err)
	}
	if !errors.As(s.Conn.Err(), &ce) || ce.Err.Error() != "client went away" {
		t.Fatalf("server's Err %v", s.Conn.Err())
	}
	if _, err := s.Stdout.Write([]byte("late")); err == nil {
		t.Fatal("a write after the abort succeeded")
	}
	if ctx := s.Conn.(*conn).Context(); ctx.Err() == nil {
		t.Fatal("the server's context is not done after the abort")
	}
}

// TestReset: a reset stream fails the peer, the session goes on.
func TestReset(t *testing.T) {
	c, s := Session(v5(t), protocol.Want{Stdout: true, Stderr: true})
	go s.Stdout.Write([]byte("x"))
	c.Stdout.Reset()
	if _, err := s.Stdout.Write([]byte("y")); err == nil {
		t.Fatal("a write on a reset stream succeeded")
	}
	go func() { s.Stderr.Write([]byte("still")); s.Stderr.CloseWrite() }()
	if b, err := io.ReadAll(c.Stderr); string(b) != "still" || err != nil {
		t.Fatalf("stderr after stdout's reset: %q, %v", b, err)
	}
}
