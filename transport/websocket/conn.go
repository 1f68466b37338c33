package websocket

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

// ErrIdleTimeout ends a connection that carried no data for IdleTimeout.
var ErrIdleTimeout = errors.New("idle timeout")

// errAborted stops the read loop after it aborted the connection itself.
var errAborted = errors.New("connection aborted")

// abortGrace bounds how long Abort waits for its close frame to go out
// before closing the socket under it.
const abortGrace = time.Second

// Conn is one WebSocket channel connection. It implements stream.Conn; its
// streams are the channels (Channel). Methods are safe for concurrent use.
//
// The read loop starts with the connection and runs until it ends; Close or
// Abort must be called once the caller is done, also after the peer ended
// the connection, because they join the connection's goroutines.
type Conn struct {
	ws       *ws.Conn
	nc       *lingerConn // server side; nil on the client
	raw      *clientWire // client side: the upgraded connection under ws (nil if not writable)
	version  protocol.Version
	client   bool
	msgType  ws.MessageType
	channels []*Channel
	log      *slog.Logger
	pool     *pump.Pool
	maxMsg   int           // largest message this side sends
	linger   time.Duration // bounds Close's wait for a Write in flight

	// wsem serialises our writes (a semaphore, so waiting writers can give
	// up when the connection closes); a pong waits behind the message in
	// flight instead of inside coder/websocket with its 5 s timeout.
	wsem        chan struct{}
	pongMu      sync.Mutex
	pong        [2 + 125]byte
	pongLen     int
	pongPending atomic.Bool  // set under pongMu; read without it on the write path
	writing     atomic.Int32 // a message is being written (client: see pingLoop)

	closing     chan struct{} // closed when the connection starts to end
	closingOnce sync.Once
	done        chan struct{} // closed when the read loop has ended
	ctx         context.Context
	cancel      context.CancelFunc // called right after done closes
	ending      atomic.Int32       // endClose or endAbort: set by the first of Close and Abort, which does the work (see abort)
	wg          sync.WaitGroup

	mu  sync.Mutex
	err error

	head    [closeSignalLen + 1]byte // read loop only: a message's first bytes
	body    prefixReader             // read loop only: the message being delivered
	dropped atomic.Uint64
	idle    *idle.Timer
	// keepAlive watches a pinging client (server); set before the
	// connection is handed out.
	keepAlive *keepAlive
	stall     *time.Timer // read loop only: see stalled

	// Keep-alive (server): when a frame last came in, whether the peer
	// pings, and since when the read loop waits for a frame (0: it does
	// not, it is delivering one).
	lastIn      atomic.Int64
	peerPings   atomic.Bool
	readWaiting atomic.Int64
}

func newConn(v protocol.Version, channels int, client bool, pool *pump.Pool, maxMsg int, log *slog.Logger) *Conn {
	c := &Conn{
		version: v,
		client:  client,
		msgType: ws.MessageBinary,
		log:     log,
		pool:    pool,
		maxMsg:  maxMsg,
		wsem:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if v.Base64 {
		c.msgType = ws.MessageText
	}
	c.channels = make([]*Channel, channels)
	for i := range c.channels {
		c.channels[i] = newChannel(c, byte(i))
	}
	return c
}

// start runs the read loop; the connection is live from here on.
func (c *Conn) start() {
	c.wg.Add(1)
	go c.readLoop()
}

// Protocol is the negotiated subprotocol ("" for a client that offered none).
func (c *Conn) Protocol() string { return c.version.Name }

// Version is the negotiated version and what it carries.
func (c *Conn) Version() protocol.Version { return c.version }

// Channel returns channel i, or nil when i is out of range. The same
// *Channel is returned on every call.
func (c *Conn) Channel(i int) *Channel {
	if i < 0 || i >= len(c.channels) {
		return nil
	}
	return c.channels[i]
}

// Dropped counts inbound messages discarded: unknown channel, invalid
// base64, or data for a channel closed for reading.
func (c *Conn) Dropped() uint64 { return c.dropped.Load() }

// Context is cancelled when Done closes, so a session can derive its
// context from the connection instead of parking a goroutine on Done.
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed when the connection has ended, by either side.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is nil after a clean end (close 1000 from either side), else a
// *stream.ConnError. It is final once Close or Abort has returned.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail records why the connection ends; the first reason wins.
func (c *Conn) fail(err *stream.ConnError) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *Conn) startClosing() { c.closingOnce.Do(func() { close(c.closing) }) }

func (c *Conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// Close ends the connection gracefully: new Writes fail with
// stream.ErrClosed, the message being written completes (up to the linger
// time; the rest of a multi-message Write fails), so every byte a Write
// reported is in the socket; then the close frame 1000 goes out,
// and the socket closes only after the peer closed its side or the linger
// time passed (see lingerConn). Inbound messages not yet read are
// discarded. Close blocks until then and joins every goroutine of the
// connection.
func (c *Conn) Close() error {
	if c.ending.CompareAndSwap(endNone, endClose) {
		c.closeGracefully()
	}
	c.wait()
	return c.Err()
}

func (c *Conn) closeGracefully() {
	c.startClosing() // refuses new writes
	// A Write still in flight finishes first, so the close frame follows
	// its message instead of failing behind it (coder/websocket would give
	// up after 5 s and send no close frame). Bounded by the linger time.
	t := time.NewTimer(c.linger)
	select {
	case c.wsem <- struct{}{}:
		<-c.wsem
	case <-t.C:
	}
	t.Stop()
	err := boundedClose(c.ws, c.raw, closeHandshakeWait)
	if c.nc == nil && err != nil && !errors.Is(err, net.ErrClosed) {
		// On the server the lingering close decides (an echo arriving after
		// coder/websocket's 5 s wait is fine); the client has no linger.
		c.fail(&stream.ConnError{Op: "close", Err: err})
	}
}

// Abort ends the connection at once with close 1008 and reason (cut to the
// 123 bytes a close frame carries), not waiting for the peer to read what was
// sent. Err reports the reason. Abort joins every goroutine.
func (c *Conn) Abort(reason string) error {
	c.abort(ws.StatusPolicyViolation, reason, &stream.ConnError{Op: "abort", Err: errors.New(reason)})
	c.wait()
	return nil
}

// Leave ends the connection at once, as Abort does, but with close 1000:
// the peer reads a deliberate end, not a failure. Why: a client giving up
// on a resumable session (porthole exec interrupted) must tell the gateway
// it left, or the gateway keeps the session and its process for a resume
// that will not come. Err reports reason.
func (c *Conn) Leave(reason string) error {
	c.abort(ws.StatusNormalClosure, reason, &stream.ConnError{Op: "leave", Err: errors.New(reason)})
	c.wait()
	return nil
}

// abort sends a close frame with code and reason and closes the socket
// without lingering; it does not join (the read loop calls it).
func (c *Conn) abort(code ws.StatusCode, reason string, cause *stream.ConnError) {
	c.fail(cause)
	if !c.ending.CompareAndSwap(endNone, endAbort) {
		if c.ending.CompareAndSwap(endClose, endAbort) {
			// A graceful Close is in progress, perhaps lingering on a
			// frozen peer: cut it short.
			c.hardClose()
		}
		// Else an abort is under way: it sends its reason and closes the
		// socket within abortGrace. Closing it now would lose the reason,
		// as a writer failing because of that abort (and aborting in turn)
		// did, under load, in TestResumeAckAhead.
		return
	}
	c.startClosing()
	// The close frame waits behind a write in flight, which a peer that
	// stopped reading holds forever (coder/websocket gives up after 5 s,
	// then waits 5 s more for the echo): close the socket under both
	// after abortGrace, on either side.
	var t *time.Timer
	switch {
	case c.nc != nil:
		c.nc.setHard()
		t = time.AfterFunc(abortGrace, c.nc.hardClose)
	case c.raw != nil:
		t = time.AfterFunc(abortGrace, func() { _ = c.raw.Close() })
	}
	if len(reason) > 123 {
		reason = reason[:123]
	}
	_ = c.ws.Close(code, reason)
	if t != nil {
		t.Stop()
	}
	c.closeSocket()
}

// How a connection is ending (Conn.ending).
const (
	endNone int32 = iota
	endClose
	endAbort
)

// hardClose closes the socket now, without close frame.
func (c *Conn) hardClose() {
	c.startClosing()
	c.closeSocket()
	if c.nc == nil {
		_ = c.ws.CloseNow() // the server's lingerConn needs no more
	}
}

// closeSocket closes the connection under coder/websocket, which fails a
// read or write in flight and a close handshake waiting behind one.
func (c *Conn) closeSocket() {
	switch {
	case c.nc != nil:
		c.nc.hardClose()
	case c.raw != nil:
		_ = c.raw.Close()
	}
}

// wait joins the read loop, the pinger and the lingering close.
func (c *Conn) wait() {
	c.wg.Wait()
	if c.idle != nil {
		c.idle.Stop()
	}
	c.keepAlive.stop()
	if c.nc != nil && c.nc.result != nil {
		c.fail(&stream.ConnError{Op: "close", Err: c.nc.result})
	}
}

// readEnd is what Read returns once the read loop has ended.
func (c *Conn) readEnd() error {
	if err := c.Err(); err != nil {
		return err
	}
	return io.EOF
}

// writeErr maps a failed or refused write to the connection's fate.
func (c *Conn) writeErr(err error) error {
	if cerr := c.Err(); cerr != nil {
		return cerr
	}
	if c.isClosing() || err == nil || errors.Is(err, net.ErrClosed) {
		return stream.ErrClosed
	}
	return &stream.ConnError{Op: "write message", Err: err}
}

// send writes one complete message as one frame.
func (c *Conn) send(msg []byte) error { return c.sendPrefixed(-1, msg) }

// sendPrefixed writes one complete message as one frame: the channel byte
// id (none if negative) then payload, in one write: the server's payload
// uncopied (lingerConn.writeFrame), the client's masked into a pooled frame
// (clientWire.writeFrame). Only without either does the frame go through
// coder/websocket, and then id must be negative.
func (c *Conn) sendPrefixed(id int, payload []byte) error {
	select {
	case c.wsem <- struct{}{}:
	case <-c.closing:
		return c.writeErr(nil)
	}
	if c.isClosing() { // both cases were ready
		<-c.wsem
		return c.writeErr(nil)
	}
	var err error
	switch {
	case c.raw != nil:
		c.writing.Add(1)
		err = c.raw.writeFrame(c.opcode(), id, payload, nil)
		c.writing.Add(-1)
	case c.nc != nil:
		var hb [maxHeaderLen + 1]byte
		n := len(payload)
		if id >= 0 {
			n++
		}
		hdr := appendHeader(hb[:0], c.opcode(), n)
		if id >= 0 {
			hdr = append(hdr, byte(id))
		}
		err = c.nc.writeFrame(hdr, payload, nil)
	default:
		err = c.ws.Write(context.Background(), c.msgType, payload)
	}
	<-c.wsem
	c.flushPong()
	if err != nil {
		return c.writeErr(err)
	}
	if c.idle != nil {
		c.idle.Touch()
	}
	return nil
}

// opcode is the frame opcode of our messages: text for base64 versions.
func (c *Conn) opcode() byte {
	if c.msgType == ws.MessageText {
		return OpText
	}
	return OpBinary
}

// onPing records a ping to answer and answers it now unless a message is
// being written, whose writer answers right after it (flushPong). It tells
// coder/websocket not to answer: its pong would wait for the write lock at
// most 5 s and then fail the whole connection while a slow peer reads.
func (c *Conn) onPing(_ context.Context, payload []byte) bool {
	c.lastIn.Store(time.Now().UnixNano())
	c.peerPings.Store(true)
	c.pongMu.Lock()
	c.pong[0] = 0x8A // FIN + pong opcode
	c.pong[1] = byte(len(payload))
	c.pongLen = 2 + copy(c.pong[2:], payload)
	c.pongPending.Store(true)
	c.pongMu.Unlock()
	c.flushPong()
	return false
}

// flushPong writes a pending pong if no message is in flight. Server frames
// are unmasked: 0x8A, length, payload; a client's go through clientWire,
// masked. Our writes always end on a frame boundary (each message is one
// flushed frame), so the raw frame is safe while we hold wsem.
func (c *Conn) flushPong() {
	if c.nc == nil && c.raw == nil {
		return
	}
	for {
		if !c.pongPending.Load() || c.isClosing() {
			return
		}
		select {
		case c.wsem <- struct{}{}:
		default:
			return // the holder flushes after its message
		}
		c.pongMu.Lock()
		var frame [2 + 125]byte
		n := c.pongLen
		frame = c.pong
		send := c.pongPending.Swap(false)
		c.pongMu.Unlock()
		switch {
		case send && c.nc != nil:
			_, _ = c.nc.Write(frame[:n])
		case send:
			_ = c.raw.writeFrame(OpPong, -1, frame[2:n], nil)
		}
		<-c.wsem
	}
}

var _ stream.Conn = (*Conn)(nil)

// closeSignalLen is the length of a v5 close signal: {0xFF, channel}.
const closeSignalLen = 2
