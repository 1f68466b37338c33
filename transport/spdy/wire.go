package spdy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/internal/gather"
	"github.com/porthole/porthole/internal/hangup"
	"github.com/porthole/porthole/internal/idle"
)

// SPDY/3 frame header layout (PROTOCOL.md 4.6): 8 bytes, then the payload.
//
//	control: [1 | version:15] [type:16] [flags:8] [length:24]
//	data:    [0 | stream-id:31]         [flags:8] [length:24]
//
// Control frames that concern one stream (SYN_STREAM, SYN_REPLY, RST_STREAM,
// HEADERS) start their payload with the 31-bit stream ID.
const (
	frameHeaderLen = 8
	flagFin        = 0x01

	typeSynStream = 1
	typeSynReply  = 2
	typeRstStream = 3
	typePing      = 6
	typeGoAway    = 7
	typeHeaders   = 8
)

// errWriteShut is what spdystream gets when it writes after the lingering
// close shut our write side: the frame (typically a PING reply) is dropped.
var errWriteShut = errors.New("spdy: connection closing, write side shut down")

// frameEvent is what the wire learns from one inbound frame header, before
// spdystream acts on the frame.
type frameEvent struct {
	control bool
	typ     uint16 // control frames only
	flags   uint8
	id      uint32 // stream ID (data frames and per-stream control frames)
	// keepAlive marks the peer's answer to one of our keep-alive PINGs.
	keepAlive bool
}

// wire is the net.Conn handed to spdystream. spdystream owns it; we keep
// three things for ourselves:
//
//   - Read goes through the bufio.Reader that parsed the HTTP exchange, so
//     bytes the peer sent right after its request (or response) are not lost,
//     and a small state machine watches frame headers go by: which streams
//     the peer ended (FIN or RST_STREAM), whether it said GOAWAY, and when the
//     last frame moved (idle timeout). It never alters the bytes, but holds
//     back each header-bearing frame until its header block passed the
//     limits (frameGate): spdystream's own decoder has none that matter.
//   - Write coalesces each frame: spdystream's framer writes a DATA frame as
//     three separate writes (4, 4 and n bytes) and control frames as many
//     tiny ones, which on a TCP_NODELAY socket means several packets per
//     frame. We collect the header and small pieces and emit each frame with
//     one writev, without copying large payloads.
//   - Close does not close the socket. spdystream calls it from its shutdown
//     after GOAWAY; we turn that into the first half of a lingering close
//     (shut the write side, arm the read deadline). The socket itself is
//     closed by Conn.serve once the reader saw EOF or the deadline.
type wire struct {
	net.Conn               // the raw connection: deadlines, addresses
	br       *bufio.Reader // reads of the raw connection, possibly pre-filled

	// Reader state; only spdystream's single read loop (or, after it ends,
	// Conn.serve's drain) touches it.
	in      frameGate    // br, with every header block checked
	scan    FrameScanner // the inbound frames' headers
	onFrame func(frameEvent)
	// readSince is when the Read in progress began (UnixNano; 0: none).
	// Silence only says the peer is gone while we are waiting for it, not
	// while the reader is held up delivering what already came.
	readSince atomic.Int64
	onReadErr func(error)           // called on the first read error
	readErr   atomic.Pointer[error] // first error from the raw read, EOF included

	// Reads begun plus reads ended: odd while spdystream's reader is in
	// Read. The stall watch tells a stuck reader from an idle one by it.
	reads atomic.Uint64

	// Writer state. wmu is held for one whole frame: one we write
	// (writeFrame, writeData, probe) or all the Writes of one of
	// spdystream's, which it makes under its own write lock; inFrame, which
	// only those Writes touch, says we hold wmu for such a frame.
	wmu     sync.Mutex
	inFrame bool
	whdr    [frameHeaderLen]byte
	wn      int
	wremain int
	wbuf    []byte
	collect bool           // the frame in wbuf is a header frame, re-encoded once whole
	werr    error          // sticky: after a failed write the byte stream is broken
	enc     *headerEncoder // nil: spdystream compresses its header blocks itself
	dhdr    [frameHeaderLen]byte
	vec     [2][]byte
	bufs    net.Buffers

	// active, when set, is told of every frame, either way (the idle
	// timer's Touch), but for keep-alive PINGs and their answers.
	active func()
	// pinger is the keep-alive, told of every frame either way (but its
	// own PINGs and their answers): it pings only a connection on which
	// nothing moved for a period.
	pinger *idle.Pinger
	ans    answers        // the peer's PINGs, answered off spdystream's workers
	pings  KeepAlivePings // the keep-alive's (Next under wmu)
	shut   atomic.Bool    // write side shut down: writes fail fast
	linger time.Duration
	now    func() time.Time
}

func newWire(raw net.Conn, br *bufio.Reader, linger time.Duration, onFrame func(frameEvent)) *wire {
	if br == nil {
		br = bufio.NewReader(raw)
	}
	w := &wire{Conn: raw, br: br, onFrame: onFrame, linger: linger, now: time.Now}
	w.in.r = br
	w.in.onPing = w.ans.peerPing
	w.ans.w = w
	w.scan.Frame = w.frame
	w.touch()
	return w
}

// touch notes a frame either way, but for keep-alive PINGs and their
// answers: activity for the idle timeout and for the keep-alive, which
// pings only a connection quiet both ways.
func (w *wire) touch() {
	if w.active != nil {
		w.active()
	}
	w.pinger.Touch()
}

// unlock releases wmu after a frame, first sending the PING answers owed
// (see answers), and takes it back for those owed meanwhile unless someone
// else holds it. Answers owed are sent in any case by answers' goroutine,
// which waits for wmu; the writer sends them sooner, right after its frame.
func (w *wire) unlock() {
	for {
		if w.ans.owed.Load() {
			w.ans.send()
		}
		w.wmu.Unlock()
		if !w.ans.owed.Load() || !w.wmu.TryLock() {
			return
		}
	}
}

// waitingFor reports how long the Read in progress has waited (0: none).
func (w *wire) waitingFor() time.Duration {
	since := w.readSince.Load()
	if since == 0 {
		return 0
	}
	return w.now().Sub(time.Unix(0, since))
}

// Read reads from the buffered connection through the header check and
// watches frame boundaries.
func (w *wire) Read(p []byte) (int, error) {
	w.reads.Add(1)
	w.readSince.Store(w.now().UnixNano())
	n, err := w.in.Read(p)
	w.readSince.Store(0)
	w.reads.Add(1)
	w.observe(p[:n])
	if err != nil {
		w.readFailedWith(err)
	}
	return n, err
}

// readFailedWith records the first read error. A function of its own: were
// Read to take the address of its own err, every Read would allocate it
// (spdystream reads a DATA frame in three Reads).
func (w *wire) readFailedWith(err error) {
	if w.readErr.CompareAndSwap(nil, &err) && w.onReadErr != nil {
		w.onReadErr(err)
	}
}

// observe follows the inbound frames in b.
func (w *wire) observe(b []byte) {
	_ = w.scan.Feed(b) // no header decoding, no payload: it cannot fail
}

// frame notes one inbound frame. The answer to a keep-alive PING is not
// activity: the keep-alive must not defeat the idle timeout.
func (w *wire) frame(f *Frame) (bool, error) {
	answer := f.Control && f.Type == typePing && w.pings.Answers(f.PingID)
	if !answer {
		w.touch()
	}
	if w.onFrame != nil {
		w.onFrame(frameEvent{control: f.Control, typ: f.Type, flags: f.Flags, id: f.StreamID, keepAlive: answer})
	}
	return false, nil
}

// writeKeepAlive writes a keep-alive PING between frames, unless a frame is
// being written (the connection is busy, which keeps it alive as well),
// and reports whether it did. It is not activity for the idle timeout.
func (w *wire) writeKeepAlive() bool {
	if !w.wmu.TryLock() {
		return false
	}
	defer w.wmu.Unlock() // not unlock: the answers owed could block (answers sends them)
	if w.writable() != nil {
		return false
	}
	frame := w.pings.Next()
	if _, err := w.Conn.Write(frame[:]); err != nil {
		w.werr = err
		return false
	}
	return true
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Write collects one frame of spdystream's at a time and sends it with a
// single write or writev. Payload pieces of at least bigPiece bytes are not
// copied. Header frames are re-encoded when spdystream writes their blocks
// uncompressed (enc). wmu is taken at a frame's first byte and released
// after its last, or at the first error, after which spdystream gives the
// frame up.
func (w *wire) Write(p []byte) (int, error) {
	if !w.inFrame {
		w.wmu.Lock()
		w.inFrame = true
	}
	n, err := w.writeLocked(p)
	if err != nil {
		w.wn, w.wbuf, w.collect = 0, w.wbuf[:0], false
	}
	if err != nil || w.wn == 0 {
		w.inFrame = false
		w.unlock()
	}
	return n, err
}

func (w *wire) writeLocked(p []byte) (int, error) {
	if w.shut.Load() {
		return 0, errWriteShut
	}
	if w.werr != nil {
		return 0, w.werr
	}
	n, err := w.write(p)
	if err != nil {
		w.werr = err
	}
	return n, err
}

func (w *wire) write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if w.wn < frameHeaderLen {
			k := copy(w.whdr[w.wn:], p)
			w.wbuf = append(w.wbuf, p[:k]...)
			w.wn += k
			p = p[k:]
			if w.wn == frameHeaderLen {
				w.wremain = int(w.whdr[5])<<16 | int(w.whdr[6])<<8 | int(w.whdr[7])
				w.collect = w.enc != nil && headerBlockOffset(w.whdr[:]) > 0
				if w.wremain == 0 {
					if err := w.flush(nil); err != nil {
						return 0, err
					}
				}
			}
			continue
		}
		k := min(len(p), w.wremain)
		piece := p[:k]
		p = p[k:]
		w.wremain -= k
		switch {
		case w.collect:
			w.wbuf = append(w.wbuf, piece...)
			if w.wremain == 0 {
				w.encodeHeaders()
			}
		case k >= bigPiece:
			if err := w.flush(piece); err != nil {
				return 0, err
			}
		default:
			w.wbuf = append(w.wbuf, piece...)
			if len(w.wbuf) >= maxPending {
				if err := w.flush(nil); err != nil {
					return 0, err
				}
			}
		}
		if w.wremain == 0 {
			if err := w.flush(nil); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// encodeHeaders replaces the uncompressed header block of the whole frame
// in wbuf by its zlib encoding and fixes the frame's length. A frame too
// short to hold a block is left as it is; the peer refuses it.
func (w *wire) encodeHeaders() {
	w.collect = false
	at := frameHeaderLen + headerBlockOffset(w.wbuf)
	if len(w.wbuf) < at {
		return
	}
	frame := w.enc.appendBlock(append(make([]byte, 0, len(w.wbuf)+32), w.wbuf[:at]...), w.wbuf[at:])
	n := len(frame) - frameHeaderLen
	frame[5], frame[6], frame[7] = byte(n>>16), byte(n>>8), byte(n)
	w.wbuf = frame
}

// writeFrame writes msg, one whole frame, between two of spdystream's.
func (w *wire) writeFrame(msg []byte) error {
	w.wmu.Lock()
	defer w.unlock()
	if err := w.writable(); err != nil {
		return err
	}
	if _, err := w.Conn.Write(msg); err != nil {
		w.werr = err
		return err
	}
	w.touch()
	return nil
}

// writeData writes a DATA frame of stream id carrying p (at most 16 MiB,
// the length field's range), without copying p when it is large.
func (w *wire) writeData(id uint32, flags uint8, p []byte) error {
	w.wmu.Lock()
	defer w.unlock()
	if err := w.writable(); err != nil {
		return err
	}
	putDataHeader(w.dhdr[:], id, flags, len(p))
	var err error
	if len(p) < bigPiece {
		w.wbuf = append(append(w.wbuf[:0], w.dhdr[:]...), p...)
		_, err = w.Conn.Write(w.wbuf)
		w.wbuf = w.wbuf[:0]
	} else {
		err = w.writeTwo(w.dhdr[:], p)
	}
	if err != nil {
		w.werr = err
		return err
	}
	w.touch()
	return nil
}

// messageWriter is a connection that carries the bytes in messages, the
// WebSocket of a port-forward tunnel (websocket.Tunnel): WriteMessage sends
// a then b as one message, where net.Buffers would write them as two.
type messageWriter interface {
	WriteMessage(a, b []byte) (int, error)
}

// writeTwo writes a then b in one gathered write: writev on TCP, one
// message on a tunnel. wmu held.
func (w *wire) writeTwo(a, b []byte) error {
	if mw, ok := w.Conn.(messageWriter); ok {
		_, err := mw.WriteMessage(a, b)
		return err
	}
	w.vec = [2][]byte{a, b}
	w.bufs = w.vec[:]
	_, err := gather.To(w.Conn, &w.bufs)
	w.vec, w.bufs = [2][]byte{}, nil // keep no reference to a or b
	return err
}

// writable reports why nothing may be written any more, if so. wmu held.
func (w *wire) writable() error {
	if w.shut.Load() {
		return errWriteShut
	}
	return w.werr
}

// putDataHeader writes the 8-byte header of a DATA frame into b.
func putDataHeader(b []byte, id uint32, flags uint8, n int) {
	_ = b[7]
	b[0], b[1], b[2], b[3] = byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id)
	b[4], b[5], b[6], b[7] = flags, byte(n>>16), byte(n>>8), byte(n)
}

const (
	bigPiece   = 2048      // payload pieces this large are written in place
	maxPending = 64 * 1024 // flush a large control frame in parts
)

// flush writes the pending bytes followed by extra, and starts a new frame
// when the current one is complete.
func (w *wire) flush(extra []byte) error {
	var err error
	switch {
	case len(extra) == 0 && len(w.wbuf) == 0:
	case len(extra) == 0:
		_, err = w.Conn.Write(w.wbuf)
	case len(w.wbuf) == 0:
		_, err = w.Conn.Write(extra)
	default:
		err = w.writeTwo(w.wbuf, extra)
	}
	w.wbuf = w.wbuf[:0]
	if w.wn == frameHeaderLen && w.wremain == 0 {
		w.wn = 0
		w.touch()
	}
	if cap(w.wbuf) > maxPending {
		w.wbuf = nil // do not keep a large control frame's buffer for the connection's life
	}
	return err
}

// probe writes frame, a whole control frame, between two frames, unless
// that could block: only when nothing we sent is still unacknowledged and
// no frame is being written (data in flight is as good a probe). It reports
// whether it wrote.
func (w *wire) probe(frame []byte) bool {
	if !w.wmu.TryLock() {
		return false
	}
	defer w.wmu.Unlock() // not unlock, as in writeKeepAlive
	if w.werr != nil || w.shut.Load() || !hangup.Quiet(w.Conn) {
		return false
	}
	if _, err := w.Conn.Write(frame); err != nil {
		w.werr = err
		return false
	}
	return true
}

// Close is spdystream's request to close after GOAWAY. We start a lingering
// close instead; see startLinger.
func (w *wire) Close() error {
	w.startLinger()
	return nil // spdystream parks a goroutine for a second on a non-nil error
}

// startLinger shuts down our write side (the peer reads EOF after every
// frame we sent) and bounds how long we keep reading. Reading on, rather
// than closing, matters: closing a socket with unread inbound data (a
// client's PING in flight, say) makes the kernel send RST, and the peer's
// kernel then drops whatever it had received but not yet delivered: the tail
// of our output. Idempotent.
func (w *wire) startLinger() {
	if w.shut.Swap(true) {
		return
	}
	_ = w.Conn.SetWriteDeadline(w.now().Add(w.linger))
	if cw, ok := w.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	if tc, ok := w.Conn.(interface{ NetConn() net.Conn }); ok { // TLS: also half-close TCP
		if cw, ok := tc.NetConn().(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
	_ = w.Conn.SetReadDeadline(w.now().Add(w.linger))
}

// lingerClose finishes the socket once spdystream's reader has ended: shut
// the write side, read and discard until EOF, an error or the linger
// deadline, then close.
func (w *wire) lingerClose() {
	w.startLinger()
	_, _ = io.Copy(io.Discard, w.br)
	_ = w.Conn.Close()
}

// readFailed reports the first read error, if any.
func (w *wire) readFailed() error {
	if p := w.readErr.Load(); p != nil {
		return *p
	}
	return nil
}
