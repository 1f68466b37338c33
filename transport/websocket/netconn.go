package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/internal/gather"
	"github.com/porthole/porthole/internal/idle"
)

// ErrLingerTimeout reports that the peer did not close its side of the TCP
// connection within the linger time after our WebSocket close.
var ErrLingerTimeout = errors.New("peer did not finish reading before the linger timeout")

// lingerConn wraps the hijacked TCP connection so that closing it never
// destroys data the peer has not read yet.
//
// Why: the real servers close TCP right after their close frame. If the client
// is still reading a long stream slowly, its pings arrive at a socket that has
// been closed; the kernel answers them with RST, and the client's kernel then
// discards everything it had received but the client had not read, the tail
// of stdout included (PROTOCOL.md 3.10). coder/websocket waits only 5 s for
// the close echo. A lingering close fixes it at the socket: let every write in
// flight finish, half-close with FIN, then read and discard until the peer
// closes too (EOF) or the linger time passes, and only then close.
//
// Close starts that sequence and returns at once (coder/websocket calls it
// with its own locks held); the lingering goroutine releases one slot of wg
// when the socket is finally closed, which Conn.Close waits for.
type lingerConn struct {
	net.Conn
	linger time.Duration
	wg     *sync.WaitGroup // one slot taken by the constructor, released by finish

	mu      sync.Mutex
	cond    sync.Cond // signals inflight reaching zero
	reads   int
	writes  int
	closing bool
	hard    bool

	// wmu makes each write one whole frame on the wire: coder/websocket's
	// (on the server only control frames, each one flushed Write: see
	// hijackBufSize) and ours (writeFrame). sealed is set under it once a
	// close frame went out, after which no data frame may follow: the
	// reader echoes a peer's close on its own, while a writer may be
	// about to send.
	wmu    sync.Mutex
	sealed bool
	whdr   [maxHeaderLen + 1]byte
	vec    [3][]byte
	bufs   net.Buffers

	finishOnce sync.Once
	result     error // ErrLingerTimeout or nil; read after wg.Wait

	// pinger is the connection's keep-alive, released once the socket is
	// closed (finished), whose timer would otherwise hold the connection
	// until its next tick.
	pinger   atomic.Pointer[idle.Pinger]
	finished atomic.Bool
}

func newLingerConn(nc net.Conn, linger time.Duration, wg *sync.WaitGroup) *lingerConn {
	l := &lingerConn{Conn: nc, linger: linger, wg: wg}
	l.cond.L = &l.mu
	wg.Add(1)
	return l
}

// Read fails once closing has begun: the lingering goroutine owns the socket.
func (l *lingerConn) Read(p []byte) (int, error) {
	if !l.begin(&l.reads) {
		return 0, net.ErrClosed
	}
	defer l.end(&l.reads)
	return l.Conn.Read(p)
}

// Write fails once closing has begun; a write already in flight completes
// (bounded by the linger time) before the FIN goes out.
func (l *lingerConn) Write(p []byte) (int, error) {
	if !l.begin(&l.writes) {
		return 0, net.ErrClosed
	}
	defer l.end(&l.writes)
	l.pinger.Load().Touch() // see idle.KeepAlive: no ping into a busy connection
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if len(p) > 0 && p[0]&0x0f == opClose {
		l.sealed = true
	}
	return l.Conn.Write(p)
}

// opClose is the WebSocket close frame's opcode.
const opClose = 0x8

// writeFrame writes one unmasked data frame, hdr (the frame header and any
// prefix of the payload, at most maxHeaderLen+1 bytes) then payload and
// more (the rest of the payload, possibly empty), in one gathered write
// (writev on TCP): the payload is never copied and the frame costs one
// syscall, where coder/websocket's Write costs two (its header goes out with
// the first bytes of the payload, through its small buffer). It fails with
// net.ErrClosed once a close frame went out or closing began.
func (l *lingerConn) writeFrame(hdr, payload, more []byte) error {
	if !l.begin(&l.writes) {
		return net.ErrClosed
	}
	defer l.end(&l.writes)
	l.pinger.Load().Touch()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.sealed {
		return net.ErrClosed
	}
	n := copy(l.whdr[:], hdr)
	l.vec = [3][]byte{l.whdr[:n], payload, more}
	l.bufs = l.vec[:2]
	if len(more) > 0 {
		l.bufs = l.vec[:3]
	}
	_, err := gather.To(l.Conn, &l.bufs)
	l.vec, l.bufs = [3][]byte{}, nil // keep no reference to payload
	return err
}

// tryPing writes an empty ping frame unless a frame is being written, and
// reports whether it did and whether the connection still takes writes
// (not once closing began, a close frame went out or a write failed).
func (l *lingerConn) tryPing() (pinged, open bool) {
	if !l.begin(&l.writes) {
		return false, false
	}
	defer l.end(&l.writes)
	if !l.wmu.TryLock() {
		return false, true
	}
	defer l.wmu.Unlock()
	if l.sealed {
		return false, false
	}
	if _, err := l.Conn.Write([]byte{0x80 | OpPing, 0}); err != nil {
		return false, false
	}
	return true, true
}

// maxHeaderLen is the longest unmasked frame header: 2 bytes and a 64-bit
// length.
const maxHeaderLen = 10

// appendHeader appends the header of an unmasked final frame of opcode op
// carrying n bytes.
func appendHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return append(b, 127, byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func (l *lingerConn) begin(n *int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	*n++
	return true
}

func (l *lingerConn) end(n *int) {
	l.mu.Lock()
	*n--
	if l.reads+l.writes == 0 {
		l.cond.Broadcast()
	}
	l.mu.Unlock()
}

// Close begins the lingering close (or closes at once after hardClose).
func (l *lingerConn) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil
	}
	l.closing = true
	hard := l.hard
	l.mu.Unlock()
	if hard {
		l.finish(nil)
		return nil
	}
	// Wake a read blocked inside coder/websocket so its close can take the
	// read lock; bound writes still in flight.
	_ = l.Conn.SetReadDeadline(time.Now())
	_ = l.Conn.SetWriteDeadline(time.Now().Add(l.linger))
	go l.lingerClose()
	return nil
}

// setHard makes a later Close immediate, without lingering.
func (l *lingerConn) setHard() {
	l.mu.Lock()
	l.hard = true
	l.mu.Unlock()
}

// hardClose closes the socket now, ending a lingering close in progress.
func (l *lingerConn) hardClose() {
	l.mu.Lock()
	l.hard = true
	lingering := l.closing
	l.closing = true
	l.cond.Broadcast()
	l.mu.Unlock()
	_ = l.Conn.Close() // unblocks reads and writes in flight
	if !lingering {
		l.finish(nil)
	}
}

// lingerClose waits for the reads and writes in flight, sends FIN, and
// discards what the peer still sends until it closes.
func (l *lingerConn) lingerClose() {
	l.mu.Lock()
	for l.reads+l.writes > 0 && !l.hard {
		l.cond.Wait()
	}
	hard := l.hard
	l.mu.Unlock()
	if hard {
		l.finish(nil)
		return
	}
	if cw, ok := l.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = l.Conn.SetReadDeadline(time.Now().Add(l.linger))
	_, err := io.Copy(io.Discard, l.Conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		l.finish(ErrLingerTimeout)
		return
	}
	l.finish(nil)
}

func (l *lingerConn) finish(err error) {
	l.finishOnce.Do(func() {
		_ = l.Conn.Close()
		l.finished.Store(true)
		l.pinger.Swap(nil).Release()
		l.result = err
		l.wg.Done()
	})
}

// keepAlive hands l the connection's keep-alive pinger (nil for none), to
// release when the socket closes, or now if it already has.
func (l *lingerConn) keepAlive(p *idle.Pinger) {
	l.pinger.Store(p)
	if l.finished.Load() {
		l.pinger.Swap(nil).Release()
	}
}

// hijackWriter hands coder/websocket our lingerConn instead of the raw
// connection, and buffers of our size.
type hijackWriter struct {
	http.ResponseWriter
	wrap func(net.Conn) *lingerConn
}

// hijackBufSize sizes the connection's own read and write buffers after
// the upgrade: a frame header with a small message, or a whole control
// frame (2 + 125 bytes), fits in one. Larger reads go straight into the
// reader's buffer and larger writes straight to the socket, as they would
// with net/http's 4 KiB buffers, which stay with net/http's connection and
// are freed when the handler returns: an idle session keeps neither.
const hijackBufSize = 256

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	lc := h.wrap(nc)
	// The 101 is already flushed (net/http flushes before it hijacks).
	// Bytes the client sent right after its request are in net/http's
	// reader: they move into ours, where coder/websocket looks for them.
	var br *bufio.Reader
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), lc), max(hijackBufSize, n))
		_, _ = br.Peek(n) // into br's buffer, from the copy: cannot fail
	} else {
		br = bufio.NewReaderSize(lc, hijackBufSize)
	}
	return lc, bufio.NewReadWriter(br, bufio.NewWriterSize(lc, hijackBufSize)), nil
}
