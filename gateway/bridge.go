package gateway

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
)

// bridge joins a client's exec or attach session to the upstream's, on any
// pair of wires: the API server's stream translator (WebSocket client, SPDY
// upstream, PROTOCOL.md 8) and its mirror (SPDY client, WebSocket upstream).
// Outputs and the status flow down, stdin and resize up; the upstream's
// status is decoded in its version and re-encoded in the client's. A client
// that goes away ends the upstream, so the node ends the process; an upstream
// that goes away ends the client's session with an InternalError status.
type bridge struct {
	g      *Gateway
	s      *session
	client *stream.Session
	up     *stream.Session
	rec    *audit.Recording

	mu sync.Mutex
	// reporting: the client can be told the outcome by a status (its
	// error stream exists), so a cut ends the upstream only.
	reporting bool
	guarded   *time.Timer // ends the client if a cut session cannot finish
}

// cut ends a session whose client cannot be told yet at once; otherwise it
// ends the upstream, so that the client still gets a failure status (a SPDY
// client reads a bare close as success), and aborts the client's connection
// if that status is not taken within the status deadline.
func (b *bridge) cut(reason string) {
	b.mu.Lock()
	reporting := b.reporting
	if reporting && b.guarded == nil {
		b.guarded = time.AfterFunc(statusWriteTimeout, func() { _ = b.client.Conn.Abort(reason) })
	}
	client, up := b.client, b.up
	b.mu.Unlock()
	if up != nil {
		_ = up.Conn.Abort(reason)
	}
	if !reporting && client != nil {
		_ = client.Conn.Abort(reason)
	}
}

// set records the sessions as they are built, for cut; reporting says
// whether the client's error stream exists.
func (b *bridge) set(client, up *stream.Session, reporting bool) {
	b.mu.Lock()
	b.client, b.up, b.reporting = client, up, reporting
	b.mu.Unlock()
}

// run copies until the session ends, writes the client's status, closes
// both connections and returns the outcome. Every goroutine it starts has
// ended when it returns.
func (b *bridge) run() outcome {
	defer func() {
		b.mu.Lock()
		if b.guarded != nil {
			b.guarded.Stop()
		}
		b.mu.Unlock()
	}()
	if why := b.s.cutReason(); why != "" {
		_ = b.up.Conn.Abort(why)
	}
	client, up := b.client, b.up
	var inputs, outputs sync.WaitGroup
	var statusBytes []byte
	var statusErr error
	outputs.Add(1)
	go func() {
		defer outputs.Done()
		statusBytes, statusErr = up.ReadStatus()
	}()
	// The owner's notices (who watches; a moderator awaited) share the
	// terminal's stream, or stderr without a tty.
	var cout, cerr io.Writer = client.Stdout, client.Stderr
	stopNotices := func() {}
	switch {
	case b.s.tty && client.Stdout != nil:
		cout, stopNotices = b.s.live.startNotices(client.Stdout, true)
	case client.Stderr != nil:
		cerr, stopNotices = b.s.live.startNotices(client.Stderr, false)
	}
	defer stopNotices()
	for _, p := range []struct {
		src    stream.Stream
		dst    io.Writer
		record bool
	}{{up.Stdout, cout, true}, {up.Stderr, cerr, false}} {
		if p.src == nil || p.dst == nil {
			continue
		}
		outputs.Add(1)
		go b.copyOut(&outputs, p.src, p.dst, p.record)
	}
	if b.s.live.held() {
		b.s.live.notify("this session is moderated: its input waits for a moderator to join")
	}
	if client.Stdin != nil && up.Stdin != nil {
		inputs.Add(1)
		go b.copyStdin(&inputs, b.s.stdinSink(up.Stdin))
	}
	if client.Resize != nil {
		inputs.Add(1)
		go b.copyResize(&inputs)
	}

	var st *status.Status
	var cause error
	switch {
	case !b.awaitOutputs(&outputs):
		// Nothing is left to report to; no status.
		cause = client.Conn.Err()
		if cause == nil {
			cause = errors.New("client closed the connection")
		}
	case b.s.cutReason() != "":
		cause = errors.New("the gateway ended the session: " + b.s.cutReason())
		st = status.NewInternalError(cause)
	case statusErr != nil:
		cause = statusErr
		st = status.NewInternalError(cause)
	default:
		st, cause = reencode(up, statusBytes)
	}
	// A notice may wait on a client that stopped reading: the status
	// deadline bounds that too.
	guard := time.AfterFunc(statusWriteTimeout, func() { _ = client.Conn.Abort("notice write timed out") })
	stopNotices()
	guard.Stop()
	out := b.finish(st, cause)
	_ = up.Conn.Close() // ends stdin and resize writes still blocked upstream
	inputs.Wait()
	return out
}

// awaitOutputs waits for the upstream's outputs and status to end and
// reports true, or reports false when the client's connection ends first (a
// killed client, even an idle one whose process writes nothing): then it
// aborts the upstream, so the node ends the process, and waits for the copies.
func (b *bridge) awaitOutputs(outputs *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		outputs.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-b.client.Conn.Done():
	}
	select {
	case <-done: // the session ended first after all
		return true
	default:
	}
	_ = b.up.Conn.Abort("client went away")
	<-done
	return false
}

// reencode decodes the upstream's error stream in its version and returns
// the status the API server's translator would write (PROTOCOL.md 8.3) and
// the outcome as an error.
func reencode(up *stream.Session, b []byte) (*status.Status, error) {
	err := up.DecodeStatus(b)
	var exit *status.ExitError
	var se *status.Error
	switch {
	case err == nil:
		return status.NewSuccess(), nil
	case errors.As(err, &exit):
		return status.NewExit(exit.Code), err
	case errors.As(err, &se):
		return status.NewInternalError(errors.New(se.Message)), err
	default:
		return status.NewInternalError(err), err
	}
}

// finish records the outcome and writes st in the client's version within
// the status deadline, then closes the client's connection gracefully; with
// st nil (the client's connection ended first) it aborts that connection.
func (b *bridge) finish(st *status.Status, cause error) outcome {
	s := b.s
	out := outcomeOK
	if cause != nil {
		s.fail(cause.Error())
		out = outcomeError
	}
	if code, ok := status.IsExit(cause); ok {
		s.setExit(code)
		out = outcomeOK
	} else if cause == nil && s.verb == "exec" {
		s.setExit(0)
	}
	if st == nil {
		// No status to give: a graceful end (FINs, GOAWAY, close 1000)
		// would read as success to a client that is still there, one
		// that only half-closed its side. It must read a broken session.
		_ = b.client.Conn.Abort("the session ended without a status: " + cause.Error())
		out = outcomeError
	} else {
		guard := time.AfterFunc(statusWriteTimeout, func() { _ = b.client.Conn.Abort("status write timed out") })
		if err := b.client.WriteStatus(st); err != nil {
			out = outcomeError
		}
		guard.Stop()
		_ = b.client.Conn.Close()
	}
	if s.cutReason() != "" {
		out = outcomeCut
	}
	return out
}

// copyOut copies an upstream output stream to the client's (and the
// recording, for stdout).
func (b *bridge) copyOut(wg *sync.WaitGroup, src stream.Stream, dst io.Writer, record bool) {
	defer wg.Done()
	var w io.Writer = &countWriter{w: dst, n: &b.s.bytesOut}
	if t := b.s.tap(b.rec); record && t != nil {
		w = io.MultiWriter(w, t)
	}
	if _, err := io.Copy(w, src); err != nil {
		_ = src.Reset()
	}
}

// copyStdin copies the client's stdin upstream; its end (the v5 close
// signal, a FIN) becomes the upstream's.
func (b *bridge) copyStdin(wg *sync.WaitGroup, dst interface {
	io.Writer
	CloseWrite() error
}) {
	defer wg.Done()
	if _, err := io.Copy(&countWriter{w: dst, n: &b.s.bytesIn}, b.client.Stdin); err == nil {
		_ = dst.CloseWrite()
	}
}

// copyResize forwards terminal sizes at no more than the allowed rate (a
// flood cuts the session) and records them. Where the upstream's version
// has no resize stream the sizes are read and dropped, so they cannot stall
// the client's connection.
func (b *bridge) copyResize(wg *sync.WaitGroup) {
	defer wg.Done()
	dec := resize.NewDecoder(b.client.Resize)
	limit := newRate(b.g.opts.MaxResizePerSecond)
	dst := b.up.Resize
	var buf []byte
	for {
		sz, err := dec.Decode()
		if err != nil {
			if errors.Is(err, io.EOF) && dst != nil {
				_ = dst.CloseWrite()
			}
			return
		}
		if !limit.allow() {
			b.s.cut("resize flood: more than the allowed resize messages per second")
			return
		}
		if b.rec != nil {
			b.rec.Resize(int(sz.Width), int(sz.Height))
		}
		b.s.live.resize(int(sz.Width), int(sz.Height))
		if dst == nil {
			continue
		}
		buf = resize.Append(buf[:0], sz)
		if _, err := dst.Write(buf); err != nil {
			return
		}
	}
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
