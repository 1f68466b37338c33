package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/internal/gather"
	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/protocol"
)

// inProcessCutGrace bounds how long a cut session's in-process upstream may
// take to notice (its reads and writes fail at once) and let go of the
// connection before the gateway closes it anyway.
const inProcessCutGrace = 5 * time.Second

// proxyInProcess is proxyUpgrade for an upstream in this process
// (Options.InProcess): the upstream's handler gets the request the gateway
// would send it, and when it takes the connection after its 101 it gets the
// client's, through inProcessConn. The session then runs on the upstream's
// own goroutines, and this one returns (outcomeDetached) as the node's
// does after its upgrade, freeing net/http's connection state and the
// request's deep stack; once the upstream lets go of the connection, a
// goroutine of the moment closes the client and ends the session as
// splice would have. Why: a spliced session holds a second connection
// pair, two copiers and their readiness waits, and a goroutine that only
// waits, for bytes that only move from one part of the process to
// another.
func (g *Gateway) proxyInProcess(w http.ResponseWriter, r *http.Request, s *session) outcome {
	out := g.newUpstreamRequest(r, s)
	req := out.WithContext(r.Context())
	req.RequestURI = out.URL.RequestURI()
	req.RemoteAddr = r.RemoteAddr
	req.Body = http.NoBody
	u := &inProcessResponse{g: g, s: s, client: w, want: r.Header.Get("Upgrade"), header: http.Header{}}
	g.opts.InProcess.ServeHTTP(u, req)
	return u.finish(req)
}

// inProcessResponse is the http.ResponseWriter the in-process upstream
// answers on. A refusal (any response it writes without taking the
// connection) is kept, at most refusalBodyLimit of body, and relayed as
// the upstream's answer would be; a 101 followed by Hijack upgrades the
// client.
type inProcessResponse struct {
	g      *Gateway
	s      *session
	client http.ResponseWriter
	want   string // the Upgrade the client asked for

	header  http.Header
	code    int         // 0 until WriteHeader
	sent    http.Header // header as of WriteHeader(101)
	body    bytes.Buffer
	conn    *inProcessConn // set by Hijack
	failed  outcome        // set when Hijack could not upgrade the client
	failErr error
}

func (u *inProcessResponse) Header() http.Header { return u.header }

func (u *inProcessResponse) WriteHeader(code int) {
	if u.code != 0 || u.conn != nil {
		return
	}
	u.code = code
	if code == http.StatusSwitchingProtocols {
		u.sent = u.header.Clone()
	}
}

func (u *inProcessResponse) Write(p []byte) (int, error) {
	if u.conn != nil {
		return 0, http.ErrHijacked
	}
	if u.code == 0 {
		u.WriteHeader(http.StatusOK)
	}
	if room := refusalBodyLimit - u.body.Len(); room > 0 {
		u.body.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Flush has nothing to do: the refusal goes out once the handler returns.
func (u *inProcessResponse) Flush() {}

// Hijack hands the upstream the client's connection. After a 101 the
// client is upgraded here, on the handler's goroutine, before the upstream
// can write a byte; without one the upstream answers on the connection
// itself (a raw refusal, as WebSocket servers answer a protocol they do not
// speak), which finish relays once it is closed.
func (u *inProcessResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if u.conn != nil {
		return nil, nil, errors.New("in-process upstream: connection already hijacked")
	}
	c := &inProcessConn{s: u.s, done: make(chan struct{})}
	if u.code == http.StatusSwitchingProtocols {
		if err := u.upgrade(c); err != nil {
			return nil, nil, err
		}
	} else {
		c.raw = &bytes.Buffer{}
	}
	u.conn = c
	// SPDY reads its frames through this reader for the session's life:
	// sized like net/http's. A WebSocket server only looks for bytes
	// buffered in it (there are none) and reads through its own.
	size := 4 << 10
	if u.s.wireIn == protocol.WebSocket {
		size = 16 // bufio's smallest
	}
	return c, bufio.NewReadWriter(bufio.NewReaderSize(c, size), bufio.NewWriterSize(c, 64)), nil
}

// upgrade answers the client with the upstream's 101 and sets c up on the
// hijacked client, as proxyUpgrade does for a spliced session.
func (u *inProcessResponse) upgrade(c *inProcessConn) error {
	resp := &http.Response{StatusCode: http.StatusSwitchingProtocols, Header: u.sent}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if !u.g.acceptUpgrade(u.client, u.s, nil, resp, u.want) {
		u.failed, u.failErr = outcomeRefused, errors.New("upgrade refused")
		return u.failErr
	}
	client, cbuf, err := http.NewResponseController(u.client).Hijack()
	if err != nil {
		u.s.fail("hijack: " + err.Error())
		u.failed, u.failErr = outcomeError, err
		return err
	}
	if err := writeHead(client, cbuf.Writer, resp); err != nil {
		client.Close()
		u.s.fail("write 101: " + err.Error())
		u.failed, u.failErr = outcomeError, err
		return err
	}
	// Bytes the client sent after its request sit in net/http's reader:
	// keep a copy, not the reader (its 4 KiB and the writer's go with
	// net/http's connection).
	if n := cbuf.Reader.Buffered(); n > 0 {
		early, _ := cbuf.Reader.Peek(n)
		c.pending = bytes.Clone(early)
	}
	c.client = client
	c.side = u.g.wrapClient(u.s, client, resp)
	// What outlives the handler refers to the session, never to u: u
	// holds net/http's ResponseWriter, and with it the connection's 4 KiB
	// reader and writer.
	s := u.s
	c.quiet = idle.New(u.g.opts.IdleTimeout, func() { s.cut("idle timeout") })
	c.quiet.Start()
	s.onCut(func(string) { c.cut() })
	return nil
}

// finish answers for the session once the upstream's handler returned:
// it relays a refusal, or leaves an upgraded session to end itself when
// the upstream lets go of the connection (outcomeDetached).
func (u *inProcessResponse) finish(req *http.Request) outcome {
	if u.failErr != nil {
		return u.failed // answered (or unanswerable) in upgrade
	}
	c := u.conn
	switch {
	case c == nil && u.code == http.StatusSwitchingProtocols:
		return u.g.upstreamFailed(u.client, u.s, "handshake",
			errors.New("in-process upstream switched protocols without taking the connection"))
	case c == nil:
		code := u.code
		if code == 0 {
			code = http.StatusOK
		}
		resp := &http.Response{StatusCode: code, Header: u.header, Body: io.NopCloser(&u.body)}
		u.g.acceptUpgrade(u.client, u.s, nil, resp, u.want)
		return outcomeRefused
	case c.raw != nil:
		return u.relayRaw(c, req)
	}
	s := u.s // not u: see upgrade
	c.whenDone(func() { s.end(c.finish()) })
	return outcomeDetached
}

// relayRaw relays what the upstream wrote on the connection it took
// without a 101, once it closed it (bounded by the handshake timeout).
func (u *inProcessResponse) relayRaw(c *inProcessConn, req *http.Request) outcome {
	t := time.NewTimer(upstreamHandshakeTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.Close()
	}
	c.wmu.Lock()
	raw := c.raw.Bytes()
	c.wmu.Unlock()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if err != nil {
		return u.g.upstreamFailed(u.client, u.s, "handshake", fmt.Errorf("upstream handshake: %w", err))
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return u.g.upstreamFailed(u.client, u.s, "handshake",
			errors.New("in-process upstream switched protocols on a connection it was not handed"))
	}
	u.g.acceptUpgrade(u.client, u.s, nil, resp, u.want)
	return outcomeRefused
}

// inProcessConn is the connection the in-process upstream serves a
// session on: the hijacked client itself, its reads through the gateway's
// inspector (limits, resizes) and its writes through the output tap
// (recording, live watchers) and the wire's closer, counted and keeping
// the idle timer alive, as splice's copiers do. Close only tells the
// gateway the upstream is done: the gateway closes the client (its last
// word first, if it said one).
type inProcessConn struct {
	s       *session
	client  net.Conn
	side    clientSide
	quiet   *idle.Timer
	pending []byte // read by net/http past the request

	rmu, wmu sync.Mutex
	raw      *bytes.Buffer // set: hijacked without a 101, what the upstream writes

	stopped atomic.Bool // cut or limited: reads and writes fail, deadlines stay
	// cutOnce and endOnce arm the timers that take the connection back
	// from an upstream that does not let go (after a cut, after one
	// direction ended).
	cutOnce, endOnce sync.Once
	errMu            sync.Mutex
	first            error // the first failure the gateway answers for

	doneMu sync.Mutex
	closed bool          // Close was called
	onDone func()        // runs (on a goroutine of its own) once closed
	done   chan struct{} // closed by Close
	// graces are the timers cut and ended armed, stopped by Close: each
	// holds the connection, and the session with it, for its whole grace.
	graces []*time.Timer
}

var _ net.Conn = (*inProcessConn)(nil)

func (c *inProcessConn) Read(p []byte) (int, error) {
	if c.raw != nil {
		return 0, io.EOF // a refusal has nothing to read
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.isDone() {
		return 0, net.ErrClosed
	}
	var (
		n   int
		err error
	)
	if len(c.pending) > 0 {
		n = copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
	} else {
		n, err = c.readFiltered(p)
	}
	if n > 0 {
		c.quiet.Touch()
		if c.side.inspect != nil {
			if ierr := c.side.inspect(p[:n]); ierr != nil {
				c.failWith(ierr)
				return 0, ierr
			}
		}
		c.s.bytesIn.Add(int64(n))
	}
	switch {
	case errors.Is(err, io.EOF):
		c.ended() // the client half-closed: the upstream finishes within endGrace
	case err != nil:
		c.note(err)
	}
	return n, err
}

// readFiltered reads the client, less its answers to the gateway's
// keep-alive (clientSide.echoes), which are not activity for the idle
// timeout (and which the node would ignore). A read of nothing but answers
// reads again. rmu held, pending empty.
func (c *inProcessConn) readFiltered(p []byte) (int, error) {
	for {
		n, err := c.client.Read(p)
		f := c.side.echoes
		if f == nil || len(p) == 0 {
			return n, err
		}
		pre, out := f.filter(p[:n])
		if errors.Is(err, io.EOF) {
			out = append(out[:len(out):len(out)], f.flush()...) // a frame cut short passes as it came
		}
		if len(pre) > 0 || len(out) > len(p) {
			all := append(append(make([]byte, 0, len(pre)+len(out)), pre...), out...)
			k := copy(p, all)
			if rest := all[k:]; len(rest) > 0 {
				c.pending = rest
				err = nil // the rest first; the end comes again
			}
			return k, err
		}
		n = copy(p, out) // out is p's own, in place: a no-op
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (c *inProcessConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(p)
}

// WriteBuffers passes a gathered write (a frame's header and payload) on
// to the client whole, one syscall and one packet (see package gather);
// the taps see each buffer in order first, as they would see each Write.
func (c *inProcessConn) WriteBuffers(b *net.Buffers) (int64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.raw != nil {
		return gather.Each(c.write, b)
	}
	if c.isDone() {
		return 0, net.ErrClosed
	}
	if c.side.tap != nil {
		for _, p := range *b {
			if err := c.side.tap(p); err != nil {
				c.failWith(err)
				return 0, err
			}
		}
	}
	n, err := gather.To(c.side.dst, b)
	c.wrote(int(n), err)
	return n, err
}

// write is Write, wmu held.
func (c *inProcessConn) write(p []byte) (int, error) {
	if c.raw != nil {
		if c.isDone() {
			return 0, net.ErrClosed
		}
		if room := refusalBodyLimit - c.raw.Len(); room > 0 {
			c.raw.Write(p[:min(len(p), room)])
		}
		return len(p), nil
	}
	if c.isDone() {
		return 0, net.ErrClosed
	}
	if c.side.tap != nil {
		if err := c.side.tap(p); err != nil {
			c.failWith(err)
			return 0, err
		}
	}
	n, err := c.side.dst.Write(p)
	c.wrote(n, err)
	return n, err
}

// wrote counts n bytes written to the client and notes err. wmu held.
func (c *inProcessConn) wrote(n int, err error) {
	if n > 0 {
		c.quiet.Touch()
		c.s.bytesOut.Add(int64(n))
	}
	if err != nil {
		c.note(err)
	}
}

// CloseWrite half-closes the client: the upstream is done sending, and
// may read on for endGrace.
func (c *inProcessConn) CloseWrite() error {
	if c.raw != nil {
		return nil
	}
	c.ended()
	if cw, ok := c.side.dst.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn is the client's connection, for a look at its socket without
// reading it (internal/hangup: is a client whose stdin the upstream does
// not take still there?); reads and writes go through c.
func (c *inProcessConn) NetConn() net.Conn { return c.client }

// Close tells the gateway the upstream let go of the connection (or the
// gateway takes it back): the session's end runs.
func (c *inProcessConn) Close() error {
	c.doneMu.Lock()
	if c.closed {
		c.doneMu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	for _, t := range c.graces {
		t.Stop()
	}
	c.graces = nil
	f := c.onDone
	c.doneMu.Unlock()
	if f != nil {
		go f() // may linger for the client to read a last word
	}
	return nil
}

// whenDone runs f once the connection is closed: at once, on this
// goroutine, if it already is (an upstream that served the session inside
// its handler, as SPDY's does).
func (c *inProcessConn) whenDone(f func()) {
	c.doneMu.Lock()
	if !c.closed {
		c.onDone = f
		c.doneMu.Unlock()
		return
	}
	c.doneMu.Unlock()
	f()
}

func (c *inProcessConn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *inProcessConn) LocalAddr() net.Addr {
	if c.client == nil {
		return inProcessAddr{}
	}
	return c.client.LocalAddr()
}

func (c *inProcessConn) RemoteAddr() net.Addr {
	if c.client == nil {
		return inProcessAddr{}
	}
	return c.client.RemoteAddr()
}

// The upstream's deadlines go to the client's socket, until a cut or a
// limit set one of the gateway's that the upstream may not lift.
func (c *inProcessConn) SetDeadline(t time.Time) error {
	if c.client == nil || c.stopped.Load() {
		return nil
	}
	return c.client.SetDeadline(t)
}

func (c *inProcessConn) SetReadDeadline(t time.Time) error {
	if c.client == nil || c.stopped.Load() {
		return nil
	}
	return c.client.SetReadDeadline(t)
}

func (c *inProcessConn) SetWriteDeadline(t time.Time) error {
	if c.client == nil || c.stopped.Load() {
		return nil
	}
	return c.client.SetWriteDeadline(t)
}

// note keeps the first failure of the client's socket the gateway answers
// for. Timeouts are not among them: only the upstream's own deadlines (its
// lingering close) and the gateway's cut set any.
func (c *inProcessConn) note(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) || c.stopped.Load() || c.isDone() {
		return
	}
	c.errMu.Lock()
	if c.first == nil {
		c.first = err
	}
	c.errMu.Unlock()
}

// failWith ends the session on a failure of the gateway's own (a limit,
// a follower's error): the client hears why where the wire can say it,
// then the upstream's reads and writes fail.
func (c *inProcessConn) failWith(err error) {
	c.errMu.Lock()
	if c.first == nil {
		c.first = err
	}
	c.errMu.Unlock()
	var lim *LimitError
	if errors.As(err, &lim) && c.s.onLimit != nil {
		c.s.onLimit(lim)
	}
	c.cut()
}

// cut makes every read and write of the upstream fail at once, and closes
// the connection for it if it has not let go within inProcessCutGrace.
func (c *inProcessConn) cut() {
	c.stopped.Store(true)
	_ = c.client.SetDeadline(time.Now())
	c.cutOnce.Do(func() { c.grace(inProcessCutGrace, func() { c.Close() }) })
}

// ended starts the grace the other direction has once one ended cleanly.
func (c *inProcessConn) ended() {
	c.endOnce.Do(func() {
		c.grace(endGrace, func() {
			c.stopped.Store(true)
			_ = c.client.SetDeadline(time.Now())
			c.Close()
		})
	})
}

// grace runs f after d unless the connection is closed first.
func (c *inProcessConn) grace(d time.Duration, f func()) {
	c.doneMu.Lock()
	defer c.doneMu.Unlock()
	if !c.closed {
		c.graces = append(c.graces, time.AfterFunc(d, f))
	}
}

// finish, once the upstream let go of the connection (or the gateway took
// it back), closes the client and tells how the session ended, as splice
// does.
func (c *inProcessConn) finish() outcome {
	c.quiet.Stop()
	c.side.done()
	// The upstream may still be inside a read or write it started before
	// the gateway took the connection back: fail it, then wait it out.
	c.stopped.Store(true)
	_ = c.client.SetDeadline(time.Now())
	c.rmu.Lock() // an in-flight read has returned once this is taken
	c.rmu.Unlock()
	c.side.dst.Close() // lingers for the client to read a last word
	c.errMu.Lock()
	first := c.first
	c.errMu.Unlock()
	var limit *LimitError
	switch {
	case c.s.cutReason() != "":
		return outcomeCut
	case errors.As(first, &limit):
		c.s.fail(limit.Msg)
		return outcomeLimit
	case !peerClosed(first):
		c.s.fail(first.Error())
		return outcomeError
	}
	return outcomeOK
}

// inProcessAddr is the address of a connection not yet upgraded.
type inProcessAddr struct{}

func (inProcessAddr) Network() string { return "inprocess" }
func (inProcessAddr) String() string  { return "inprocess" }
