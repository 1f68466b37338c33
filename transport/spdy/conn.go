package spdy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/spdystream"
	spdyframe "github.com/moby/spdystream/spdy"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/stream"
)

// Defaults; the option structs document them.
const (
	DefaultIdleTimeout = 4 * time.Hour    // CRI streaming server default
	DefaultLinger      = 60 * time.Second // how long a closing Conn reads on
	DefaultMaxStreams  = 1000
	DefaultStreamQueue = 64
	DefaultPingPeriod  = 5 * time.Second // client-go's exec/attach period
	DefaultKeepAlive   = 20 * time.Second
	openTimeout        = 30 * time.Second
	// defaultFrameSize bounds each DATA frame Write sends. Measured with
	// BenchmarkStreamThroughput (pipe, loopback): 32 KiB ~1.07 GB/s, 16 KiB
	// ~0.65, 64 KiB and up no faster (~0.95-1.0). Larger frames also grow the
	// receiver's memory on a stalled connection (about 50 queued frames per
	// stalled worker, see the package doc), and client-go sends 32 KiB too.
	defaultFrameSize = 32 * 1024
	// readFromFrameSize bounds each DATA frame ReadFrom sends: one read of
	// what a process's output pipe (1 MiB, localrt) holds at that moment,
	// never a wait for more. The receiver pays per frame (spdystream: an
	// allocation, a queue hop, three reads of the socket), so on the exec
	// bench, where client-go and the node share two cores, 64 KiB frames
	// cut client-go's CPU per byte by about a quarter against 32 KiB; 128
	// KiB bought nothing more while doubling what a stalled reader queues
	// (about 51 frames per stalled stream: 3.3 MiB at 64 KiB). The same size
	// as the WebSocket side's largest message.
	readFromFrameSize = 64 * 1024
	// replyPoll is how often a stream awaiting SYN_REPLY rechecks whether the
	// connection ended (spdystream's Wait cannot be interrupted).
	replyPoll = 100 * time.Millisecond
)

var (
	// ErrIdleTimeout ends a connection on which no frame moved for the idle timeout.
	ErrIdleTimeout = errors.New("spdy: idle timeout")
	// ErrPeerUnresponsive ends a connection whose peer sent nothing, not
	// even a PING reply, for the keep-alive timeout: frozen, or gone
	// without a FIN or reset.
	ErrPeerUnresponsive = errors.New("spdy: peer unresponsive: no frame within the keep-alive timeout")
	// ErrProtocol ends a connection whose peer sent a frame spdystream rejected.
	ErrProtocol = errors.New("spdy: invalid frame from peer")
	// ErrRefused is returned by Open when the peer answered SYN_STREAM with RST_STREAM.
	ErrRefused = errors.New("spdy: stream refused by peer")
	// ErrOpenTimeout is returned by Open when no SYN_REPLY came within 30 s.
	ErrOpenTimeout = errors.New("spdy: timed out waiting for SYN_REPLY")
)

// Conn is one SPDY/3.1 connection, either side. It implements stream.Conn.
// All methods are safe for concurrent use.
//
// A Conn runs spdystream's reader and workers, one watcher goroutine per
// stream, and optionally an idle timer and a pinger; Close and Abort join
// them all. Callers must call Close or Abort exactly when they are done,
// also after Done has closed.
type Conn struct {
	sc       *spdystream.Connection
	wire     *wire
	protocol string
	log      *slog.Logger

	maxStreams int
	idle       time.Duration
	idleTimer  *idle.Timer  // nil without an idle timeout
	pinger     *idle.Pinger // the server's keep-alive; nil without one
	ping       time.Duration
	alive      time.Duration // keep-alive timeout (see keepAlive)
	linger     time.Duration
	frameSize  int // largest DATA frame Write sends; a variable for the benchmark
	readSize   int // largest DATA frame ReadFrom sends; likewise

	lastIn    atomic.Int64 // UnixNano of the last inbound frame
	peerPings atomic.Bool  // the peer sent a PING (it keeps the line alive)
	pinging   atomic.Bool  // a PING of ours awaits its reply

	acceptQ chan *Stream
	// turnMu and lastTurn keep Accept in the order the peer's streams
	// arrived (see takeTurn).
	turnMu   sync.Mutex
	lastTurn <-chan struct{}
	pool     *pump.Pool // frame header + readSize, for ReadFrom

	// openMu orders stream creation against closing: Open holds it shared
	// while it creates and registers a stream, terminate holds it exclusively
	// while it sets closing, so every stream spdystream knows is registered
	// here before resetAll looks (spdystream's shutdown waits forever for a
	// stream nobody resets).
	openMu    sync.RWMutex
	mu        sync.Mutex // guards streams; never held across I/O
	streams   map[uint32]*Stream
	closing   atomic.Bool
	closingCh chan struct{}
	cause     atomic.Pointer[stream.ConnError] // why we ended it, when not a plain Close
	sawGoAway atomic.Bool
	refusing  atomic.Bool // RefuseStreams was called

	termOnce sync.Once
	endOnce  sync.Once
	endErr   error
	done     chan struct{} // the peer will send nothing more; endErr is set
	ctx      context.Context
	cancel   context.CancelFunc // called right after done closes
	served   chan struct{}      // spdystream's Serve returned: no worker runs any more
	stall    *stallWatch        // server side only
	wg       sync.WaitGroup
}

type connConfig struct {
	protocol   string
	log        *slog.Logger
	maxStreams int
	queue      int
	idle       time.Duration
	ping       time.Duration
	alive      time.Duration
	linger     time.Duration
	// keepAlive, when positive, PINGs the peer this often for the
	// proxies between (UpgradeOptions.KeepAlive); onKeepAlive is told of
	// each PING sent.
	keepAlive   time.Duration
	onKeepAlive func()
}

// newConn starts a SPDY connection over raw; br, if not nil, holds bytes
// already read from raw. newConn owns raw on every path.
func newConn(raw net.Conn, br *bufio.Reader, server bool, cfg connConfig) (*Conn, error) {
	c := &Conn{
		protocol:   cfg.protocol,
		log:        cfg.log,
		maxStreams: cfg.maxStreams,
		idle:       cfg.idle,
		ping:       cfg.ping,
		alive:      cfg.alive,
		linger:     cfg.linger,
		frameSize:  defaultFrameSize,
		readSize:   readFromFrameSize,
		acceptQ:    make(chan *Stream, cfg.queue),
		lastTurn:   closedChan,
		streams:    make(map[uint32]*Stream),
		closingCh:  make(chan struct{}),
		done:       make(chan struct{}),
		served:     make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.pool = framePool
	c.wire = newWire(raw, br, cfg.linger, c.onFrame)
	c.wire.onReadErr = c.ended
	// The gate checks first; spdystream's own limits, set to match, are a
	// second line.
	// spdystream's header compression is ours when rawHeaders works (see
	// there); its control frame limit then covers a decompressed block.
	var rawOK bool
	sc, err := spdystream.NewConnectionWithOptions(c.wire, server,
		rawHeaders(&rawOK),
		spdyframe.WithMaxControlFramePayloadSize(maxInflatedFrame),
		spdyframe.WithMaxHeaderFieldSize(maxHeaderField),
		spdyframe.WithMaxHeaderCount(maxHeaderValues))
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("start spdy connection: %w", err)
	}
	if rawOK {
		c.wire.enc = &headerEncoder{}
		c.wire.in.inflate = true
	}
	c.sc = sc
	if c.idle > 0 { // before the reader, which touches it
		c.idleTimer = idle.New(c.idle, c.expireIdle)
		c.wire.active = c.idleTimer.Touch
		c.idleTimer.Start()
	}
	if server {
		c.startStallWatch() // before the reader, whose end stops it
	}
	// Before the reader, whose end releases it.
	c.pinger = idle.KeepAlive(cfg.keepAlive, c.keepAlivePing, cfg.onKeepAlive)
	c.wire.pinger = c.pinger
	c.wire.ans.server = server
	c.wire.ans.spawn = func(f func()) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			f()
		}()
	}
	c.wg.Add(1)
	go c.serve()
	c.lastIn.Store(time.Now().UnixNano())
	switch {
	case c.ping > 0:
		c.wg.Add(1)
		go c.pingLoop()
	case c.alive > 0:
		c.wg.Add(1)
		go c.keepAliveLoop()
	}
	return c, nil
}

// keepAlivePing is the idle.KeepAlive ping of a server's keep-alive
// (UpgradeOptions.KeepAlive). It waits for no answer: the keep-alive
// timeout judges the peer's liveness, and only on the peer's own PINGs.
// Neither the PINGs nor their answers count as activity for the idle
// timeout.
func (c *Conn) keepAlivePing() (pinged, open bool) {
	select {
	case <-c.closingCh:
		return false, false
	case <-c.done:
		return false, false
	default:
	}
	return c.wire.writeKeepAlive(), true
}

// RefuseStreams resets every stream the peer opens from now on, and those
// it opened that Accept has not taken yet. A server that has all the streams
// it expects calls it, so that an extra stream can neither sit in the accept
// queue nor, once the queue is full, stall the connection (the kubelet's
// unbuffered hand-off blocks there for good, PROTOCOL.md 4.2).
func (c *Conn) RefuseStreams() {
	c.refusing.Store(true)
	for {
		select {
		case s := <-c.acceptQ:
			_ = s.reset()
		default:
			return
		}
	}
}

// Context is cancelled when Done closes, so a session can derive its
// context from the connection instead of parking a goroutine on Done.
func (c *Conn) Context() context.Context { return c.ctx }

// Protocol is the negotiated X-Stream-Protocol-Version.
func (c *Conn) Protocol() string { return c.protocol }

// Done is closed when the peer will send nothing more: it said GOAWAY, the
// socket reached EOF or failed, or a frame was invalid. Streams may still
// hold data the peer sent before that.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err tells why Done closed: nil after Close or after the peer's GOAWAY, else
// a *stream.ConnError (Op "read frame", "idle" or "abort"). Nil before Done.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.endErr
	default:
		return nil
	}
}

// LocalAddr and RemoteAddr are the socket's addresses.
func (c *Conn) LocalAddr() net.Addr  { return c.wire.Conn.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.wire.Conn.RemoteAddr() }

// serve runs spdystream's reader, then finishes the socket: a lingering drain
// when either side said GOAWAY and the peer is still there, then close.
func (c *Conn) serve() {
	defer c.wg.Done()
	c.sc.Serve(c.handleStream)
	close(c.served)
	c.ended(nil)
	if c.wire.readFailed() == nil && (c.closing.Load() || c.sawGoAway.Load()) {
		c.wire.lingerClose()
		return
	}
	_ = c.wire.Conn.Close()
}

// ended records why the connection ended and closes done, once.
func (c *Conn) ended(readErr error) {
	c.endOnce.Do(func() {
		if readErr == nil {
			readErr = c.wire.readFailed()
		}
		switch {
		case c.cause.Load() != nil:
			c.endErr = c.cause.Load()
		case c.closing.Load(), c.sawGoAway.Load():
		case readErr != nil:
			if errors.Is(readErr, ErrHeaderLimit) {
				c.log.Warn("spdy: peer sent a header block over the limits", "err", readErr, "remote", c.wire.Conn.RemoteAddr())
			}
			c.endErr = &stream.ConnError{Op: "read frame", Err: readErr}
		default:
			c.endErr = &stream.ConnError{Op: "read frame", Err: ErrProtocol}
		}
		close(c.done)
		c.cancel()
		c.stall.stop()
		c.idleTimer.Stop()
		c.pinger.Release() // not Stop: a ping in flight may wait on a peer that stopped reading
	})
}

// onFrame runs on the reader for each inbound frame header, before
// spdystream handles the frame.
func (c *Conn) onFrame(ev frameEvent) {
	c.lastIn.Store(time.Now().UnixNano())
	if ev.control && ev.typ == typePing && !ev.keepAlive {
		c.peerPings.Store(true)
	}
	switch {
	case !ev.control && ev.flags&flagFin != 0,
		ev.control && ev.typ == typeRstStream,
		ev.control && (ev.typ == typeSynReply || ev.typ == typeHeaders) && ev.flags&flagFin != 0:
		c.mu.Lock()
		s := c.streams[ev.id]
		c.mu.Unlock()
		if s != nil {
			s.peerEnded.Store(true)
			if !s.created {
				s.done(remoteDone)
			}
		}
	case ev.control && ev.typ == typeGoAway:
		c.sawGoAway.Store(true)
		c.ended(nil)
	}
}

// handleStream is spdystream's new-stream handler. It runs on the worker of
// the stream's partition, before any later frame of that stream, so the
// SYN_REPLY it sends precedes our handling of the peer's first DATA frame
// (spdystream drops DATA for a stream it has not replied to).
func (c *Conn) handleStream(st *spdystream.Stream) {
	if c.refusing.Load() {
		_ = st.Reset() // after RefuseStreams
		return
	}
	// Take a place in line before the SYN_REPLY lets the peer open its
	// next stream: spdystream hands streams to several workers, and when
	// the queue is full they would otherwise race for its free slots.
	prev, mine := c.takeTurn()
	defer close(mine)
	s := newStream(c, st, false)
	if !c.register(s) {
		_ = st.Reset() // RST_STREAM CANCEL, as the kubelet rejects streams
		return
	}
	if err := st.SendReply(http.Header{}, false); err != nil {
		s.reset()
		c.log.Debug("spdy: send SYN_REPLY", "stream", st.Identifier(), "err", err)
		return
	}
	// No watching goroutine for a peer's stream: onFrame sees its FIN or
	// RST_STREAM go by (an idle exec holds five such streams).
	select {
	case <-prev:
	case <-c.closingCh:
		s.reset()
		return
	}
	select {
	case c.acceptQ <- s:
		if c.refusing.Load() {
			c.RefuseStreams() // it raced with RefuseStreams's drain
		}
	case <-c.closingCh:
		s.reset()
	}
}

// takeTurn returns the channel closed when the previous peer stream has
// been queued for Accept (or given up) and the one to close when this one
// has.
func (c *Conn) takeTurn() (prev <-chan struct{}, mine chan struct{}) {
	mine = make(chan struct{})
	c.turnMu.Lock()
	prev, c.lastTurn = c.lastTurn, mine
	c.turnMu.Unlock()
	return prev, mine
}

// register adds s to the stream table unless the connection is closing or
// holds maxStreams streams already.
func (c *Conn) register(s *Stream) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing.Load() {
		return false
	}
	if c.maxStreams > 0 && len(c.streams) >= c.maxStreams {
		c.log.Warn("spdy: refusing stream over the limit", "stream", s.ID(), "limit", c.maxStreams)
		return false
	}
	c.streams[s.ID()] = s
	return true
}

func (c *Conn) unregister(s *Stream) {
	c.mu.Lock()
	if c.streams[s.ID()] == s {
		delete(c.streams, s.ID())
	}
	c.mu.Unlock()
}

// Accept returns the next stream the peer opened, already answered with
// SYN_REPLY, so it may be written at once. Order is the order in which
// spdystream's workers handled the SYN_STREAMs: arrival order whenever the
// peer waits for each SYN_REPLY before opening the next stream, as client-go
// does. Streams not taken wait in a queue of UpgradeOptions.StreamQueue;
// when it is full the worker that received the stream waits too (see the
// package doc on shared fate). After the connection ended Accept returns
// io.EOF (graceful end), stream.ErrClosed (closed locally) or Err().
func (c *Conn) Accept(ctx context.Context) (*Stream, error) {
	select {
	case s := <-c.acceptQ:
		return s, nil
	default:
	}
	select {
	case s := <-c.acceptQ:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closingCh:
		return nil, stream.ErrClosed
	case <-c.done:
		if err := c.endErr; err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
}

// Open creates a stream with headers and waits for the peer's SYN_REPLY, at
// most 30 s (client-go's limit) or until ctx ends. Header names are sent in
// lower case.
func (c *Conn) Open(ctx context.Context, headers http.Header) (*Stream, error) {
	s, err := c.create(headers)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(openTimeout)
	defer t.Stop()
	if err := c.awaitReply(ctx, s, t.C); err != nil {
		return nil, err
	}
	return s, nil
}

// awaitReply waits for the SYN_REPLY of s, a stream this side created,
// until ctx ends or timeout fires; on failure s is reset.
func (c *Conn) awaitReply(ctx context.Context, s *Stream, timeout <-chan time.Time) error {
	select {
	case <-s.replied:
		if s.replyErr != nil {
			s.reset()
			return fmt.Errorf("open stream %d: %w", s.ID(), s.replyErr)
		}
		return nil
	case <-ctx.Done():
		s.reset()
		return ctx.Err()
	case <-timeout:
		s.reset()
		return fmt.Errorf("open stream %d: %w", s.ID(), ErrOpenTimeout)
	}
}

func (c *Conn) create(headers http.Header) (*Stream, error) {
	c.openMu.RLock()
	defer c.openMu.RUnlock()
	if c.closing.Load() {
		return nil, stream.ErrClosed
	}
	select {
	case <-c.done:
		if c.endErr != nil {
			return nil, c.endErr
		}
		return nil, stream.ErrClosed
	default:
	}
	if headers == nil {
		headers = http.Header{}
	}
	st, err := c.sc.CreateStream(headers, nil, false)
	if err != nil {
		if st != nil {
			_ = st.Reset() // spdystream registered it; its shutdown would wait for it
		}
		return nil, &stream.ConnError{Op: "send SYN_STREAM", Err: err}
	}
	s := newStream(c, st, true)
	c.mu.Lock()
	c.streams[s.ID()] = s
	c.mu.Unlock()
	c.wg.Add(1)
	go s.watch()
	return s, nil
}

// Close ends the connection gracefully and tail-safe: every stream not yet
// half-closed by the caller gets RST_STREAM CANCEL (streams it CloseWrite'd
// get nothing more, their data and FIN are already on the wire), then
// GOAWAY, then a lingering close: our write side is shut (TCP FIN) and we
// read and discard, answering nothing, until the peer closes or the linger
// deadline (default 60 s) passes; only then is the socket closed, so the
// peer's kernel never drops our unread tail on an RST. Close blocks until
// then and joins every goroutine of the Conn, spdystream's included. It
// returns nil; Err tells how the connection ended.
func (c *Conn) Close() error {
	c.terminate(true, nil)
	c.join()
	return nil
}

// Abort ends the connection at once: the socket is closed without GOAWAY
// (SPDY carries no reason text; reason is logged and becomes Err). Abort
// joins every goroutine, like Close.
func (c *Conn) Abort(reason string) error {
	c.log.Info("spdy: aborting connection", "reason", reason)
	c.terminate(false, &stream.ConnError{Op: "abort", Err: errors.New(reason)})
	c.join()
	return nil
}

// terminate starts ending the connection, once. It does not wait.
func (c *Conn) terminate(graceful bool, cause *stream.ConnError) {
	c.termOnce.Do(func() {
		c.idleTimer.Stop()
		if cause != nil {
			c.cause.Store(cause)
		}
		if graceful {
			// Bound every write still to come (RST, GOAWAY, a caller's
			// Write) in case the peer stopped reading.
			_ = c.wire.Conn.SetWriteDeadline(time.Now().Add(c.linger))
		} else {
			_ = c.wire.Conn.Close()
		}
		c.openMu.Lock()
		c.mu.Lock()
		c.closing.Store(true)
		c.mu.Unlock()
		close(c.closingCh)
		c.openMu.Unlock()
		c.resetAll()
		_ = c.sc.Close() // GOAWAY; starts spdystream's shutdown, which calls wire.Close
		c.wire.startLinger()
	})
}

// join waits for the socket to be closed and every goroutine to end.
func (c *Conn) join() {
	<-c.served
	_ = c.sc.Wait(0) // spdystream's shutdown goroutine, started by sc.Close
	c.wg.Wait()
}

// resetAll resets every registered stream: RST_STREAM CANCEL for those still
// open for writing, a local close of the read side for the others.
func (c *Conn) resetAll() {
	c.mu.Lock()
	list := make([]*Stream, 0, len(c.streams))
	for _, s := range c.streams {
		list = append(list, s)
	}
	c.mu.Unlock()
	for _, s := range list {
		s.reset()
	}
}

// expireIdle ends the connection when no frame moved, either way, for the
// idle timeout. Pings count, as in the kubelet: a pinging client never idles.
func (c *Conn) expireIdle() {
	c.log.Info("spdy: idle timeout", "timeout", c.idle)
	c.terminate(true, &stream.ConnError{Op: "idle", Err: ErrIdleTimeout})
}

// pingLoop sends a PING every period, like client-go, and ends the
// connection with ErrPeerUnresponsive when nothing came back for the
// keep-alive timeout (a reply, or any other frame, proves the peer alive).
func (c *Conn) pingLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.ping)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-c.closingCh:
			return
		case <-t.C:
		}
		if c.unresponsive() {
			return
		}
		if c.pinging.CompareAndSwap(false, true) {
			// spdystream's Ping waits for the reply, or for the reader to
			// end, which ending the connection brings about.
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer c.pinging.Store(false)
				if _, err := c.sc.Ping(); err != nil {
					c.log.Debug("spdy: ping", "err", err)
				}
			}()
		}
	}
}

// keepAliveLoop is the server's watch on a client that pings: once the
// peer has sent a PING, silence beyond the keep-alive timeout means it is
// frozen or gone. A client that never pings (the kubelet's peers need not)
// is left to the idle timeout, which the server's own PINGs would defeat.
func (c *Conn) keepAliveLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.alive / 4)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-c.closingCh:
			return
		case <-t.C:
		}
		if c.peerPings.Load() && c.unresponsive() {
			return
		}
	}
}

// unresponsive ends the connection, and reports true, when no frame came in
// for the keep-alive timeout while the reader was waiting for one.
func (c *Conn) unresponsive() bool {
	if c.alive <= 0 {
		return false
	}
	quiet := time.Since(time.Unix(0, c.lastIn.Load()))
	if quiet < c.alive || c.wire.waitingFor() < c.alive {
		return false
	}
	c.log.Info("spdy: peer unresponsive", "quiet", quiet, "timeout", c.alive)
	c.terminate(false, &stream.ConnError{Op: "keepalive", Err: ErrPeerUnresponsive})
	return true
}

// framePool holds the DATA frames ReadFrom fills, header and payload, for
// every Conn: an idle stream holds none (see ReadFrom).
var framePool = pump.NewPool(frameHeaderLen + readFromFrameSize)

// setFrameSize changes the largest DATA frame sent, by Write and ReadFrom
// (benchmarks).
func (c *Conn) setFrameSize(n int) {
	c.frameSize = n
	c.readSize = n
	c.pool = pump.NewPool(frameHeaderLen + n)
}

// closedChan is the first stream's predecessor: already done.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
