package websocket

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
)

// ErrNoCloseSignal is returned by a client's CloseWrite when the negotiated
// version has no close signal (only v5 has one): the server cannot learn
// that the client will send no more.
var ErrNoCloseSignal = errors.New("protocol has no close signal")

// Channel is one channel of a Conn, a stream.Stream. Read and Write may run
// concurrently, each from one goroutine at a time; the Close and Reset
// methods may be called from any goroutine.
//
// Read returns io.EOF after the peer's v5 close signal for this channel or a
// clean end of the connection, and the *stream.ConnError of a broken one.
type Channel struct {
	c  *Conn
	id byte

	// inb is made on first use: a channel the server only writes (stdout,
	// stderr, the error channel, resize without a tty) never needs one,
	// and shares readClosed once closed for reading.
	inbOnce sync.Once
	inb     *inbound

	eofOnce    sync.Once
	rcloseOnce sync.Once
	wclosed    atomic.Bool

	// sink, once PushTo set it, is where the read loop writes the
	// channel's data itself; sinkFailed (read loop only) drops the rest
	// after a write failed.
	sink       atomic.Pointer[os.File]
	sinkOnce   sync.Once
	sinkFailed bool
}

// inbound is the hand-over between the read loop and a channel's reader.
type inbound struct {
	// req and resp hand the consumer's buffer to the read loop and the
	// count back: the read loop reads the socket straight into it.
	req  chan []byte
	resp chan int
	// ready holds a token while the read loop waits to hand this channel
	// data, so WriteTo can wait for data without holding a buffer.
	ready   chan struct{}
	eof     chan struct{} // v5 close signal received
	rclosed chan struct{} // CloseRead or Reset
}

func newChannel(c *Conn, id byte) *Channel {
	return &Channel{c: c, id: id}
}

// ended says why the channel has nothing more to read, if it has not: a
// CloseRead (stream.ErrClosed) outranks the peer's close signal (io.EOF),
// which may have come first, so that a channel closed for reading always
// says so.
func (in *inbound) ended() error {
	select {
	case <-in.rclosed:
		return stream.ErrClosed
	default:
	}
	select {
	case <-in.eof:
		return io.EOF
	default:
		return nil
	}
}

// readClosed is the inbound of every channel closed for reading before
// anything used it: a session closes each channel it will not read (most
// of them, most of them never touched again), and they need no hand-over
// of their own. Its rclosed is closed, so a message for such a channel is
// dropped and a Read fails; its other channels are nil, so no select ever
// takes them and nothing ever closes them.
var readClosed = &inbound{rclosed: func() chan struct{} { c := make(chan struct{}); close(c); return c }()}

// in is the channel's inbound hand-over, made on first use.
func (ch *Channel) in() *inbound {
	ch.inbOnce.Do(func() {
		ch.inb = &inbound{req: make(chan []byte), resp: make(chan int), ready: make(chan struct{}, 1),
			eof: make(chan struct{}), rclosed: make(chan struct{})}
	})
	return ch.inb
}

// ID is the channel number.
func (ch *Channel) ID() int { return int(ch.id) }

func (ch *Channel) String() string { return "channel " + strconv.Itoa(int(ch.id)) }

// Read reads the payload of inbound messages for this channel, in order;
// message boundaries are not preserved. It blocks until data arrives, and
// while it is not called the connection's read loop waits (see package doc).
func (ch *Channel) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if err := ch.in().ended(); err != nil {
			return 0, err
		}
		select {
		case ch.in().req <- p:
			if n := <-ch.in().resp; n > 0 {
				return n, nil
			}
		case <-ch.in().eof:
			return 0, ch.in().ended()
		case <-ch.in().rclosed:
			return 0, stream.ErrClosed
		case <-ch.c.done:
			return 0, ch.c.readEnd()
		}
	}
}

// WriteTo copies the channel's inbound data to w until EOF (io.Copy uses
// it), returning nil at EOF. Unlike io.Copy's own loop it holds no buffer
// while no message is waiting: it parks until the read loop has data for the
// channel, then reads into a pooled buffer and writes that to w.
func (ch *Channel) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		switch err := ch.in().ended(); err {
		case io.EOF:
			return total, nil
		case nil:
		default:
			return total, err
		}
		select {
		case <-ch.in().ready:
		case <-ch.in().eof:
			if err := ch.in().ended(); err != io.EOF {
				return total, err
			}
			return total, nil
		case <-ch.in().rclosed:
			return total, stream.ErrClosed
		case <-ch.c.done:
			if err := ch.c.readEnd(); err != io.EOF {
				return total, err
			}
			return total, nil
		}
		n, err := ch.readPooled(w)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// readPooled takes one chunk from the read loop into a pooled buffer and
// writes it to w. A chunk of 0 bytes is the end of a message: the caller
// goes back to waiting without a buffer (Read would wait for the next
// message holding one).
func (ch *Channel) readPooled(w io.Writer) (int, error) {
	bp := ch.c.pool.Get()
	defer ch.c.pool.Put(bp)
	var n int
	var err error
	select {
	case ch.in().req <- *bp:
		n = <-ch.in().resp
	case <-ch.in().eof:
		err = ch.in().ended()
	case <-ch.in().rclosed:
		err = stream.ErrClosed
	case <-ch.c.done:
		err = ch.c.readEnd()
	}
	if n > 0 {
		if _, werr := w.Write((*bp)[:n]); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// Write sends p as one message, split into several only where p exceeds the
// largest message this side sends (64 KiB on the server, 32 KiB + 1 on the
// client, like client-go; clients never fragment a message). Write(nil)
// sends the channel byte alone (base64: the digit alone), the "connected"
// message servers send first. Write returns once the message is in the
// socket; it blocks while the peer does not read.
func (ch *Channel) Write(p []byte) (int, error) {
	if ch.wclosed.Load() {
		return 0, stream.ErrClosed
	}
	max := ch.payloadMax()
	written := 0
	for first := true; first || len(p) > 0; first = false {
		chunk := p[:min(len(p), max)]
		if err := ch.sendPayload(chunk); err != nil {
			return written, err
		}
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}

// payloadMax is the largest payload of one message.
func (ch *Channel) payloadMax() int {
	if ch.c.version.Base64 {
		return channel.Base64PayloadMax(ch.c.maxMsg)
	}
	return ch.c.maxMsg - channel.HeaderLen
}

// sendPayload frames payload into a pooled buffer and sends it.
func (ch *Channel) sendPayload(payload []byte) error {
	if ch.wclosed.Load() {
		return stream.ErrClosed // Reset while a Write or ReadFrom runs
	}
	c := ch.c
	if !c.version.Base64 && (c.nc != nil || c.raw != nil) {
		return c.sendPrefixed(int(ch.id), payload) // the payload is not copied first
	}
	bp := c.pool.Get()
	defer c.pool.Put(bp)
	var msg []byte
	if c.version.Base64 {
		msg = (*bp)[:channel.EncodeBase64(*bp, ch.id, payload)]
	} else {
		msg = channel.Append((*bp)[:0], ch.id, payload)
	}
	return c.send(msg)
}

// ReadFrom copies src to the channel until EOF, one message per read, and
// returns nil at EOF (io.Copy uses it). Binary versions read straight into
// the message buffer after the channel byte, so payload is never copied.
// While src has no data, ReadFrom holds no buffer: sources with a file
// descriptor (pipes, ptys, sockets) are polled first (internal/pump).
func (ch *Channel) ReadFrom(src io.Reader) (int64, error) {
	if ch.wclosed.Load() {
		return 0, stream.ErrClosed
	}
	c := ch.c
	if c.version.Base64 {
		return pump.Copy(src, c.pool, 0, ch.payloadMax(), ch.sendPayload)
	}
	return pump.Copy(src, c.pool, channel.HeaderLen, ch.payloadMax(), func(msg []byte) error {
		if ch.wclosed.Load() {
			return stream.ErrClosed
		}
		msg[0] = ch.id
		return c.send(msg)
	})
}

// CloseWrite half-closes the channel. On a client it sends the v5 close
// signal {0xFF, ch} once (ErrNoCloseSignal for other versions); a server
// sends nothing, since servers never half-close (PROTOCOL.md 3.9). Later
// Writes fail with stream.ErrClosed.
func (ch *Channel) CloseWrite() error {
	c := ch.c
	if !c.client {
		ch.wclosed.Store(true)
		return nil
	}
	if !c.version.CloseSignal {
		return ErrNoCloseSignal
	}
	if ch.wclosed.Swap(true) {
		return nil
	}
	msg := channel.CloseMessage(ch.id)
	return c.send(msg[:])
}

// CloseRead stops reading the channel: messages for it are discarded from
// now on and pending Reads return stream.ErrClosed. Call it for channels
// nobody reads, so their messages cannot stall the read loop.
func (ch *Channel) CloseRead() error {
	ch.rcloseOnce.Do(func() {
		unused := false
		ch.inbOnce.Do(func() { ch.inb, unused = readClosed, true })
		if !unused {
			close(ch.inb.rclosed)
		}
	})
	ch.closeSink()
	return nil
}

// Reset abandons the channel both ways: CloseRead, and later Writes fail.
// Nothing is sent; the channel protocols have no per-channel reset.
func (ch *Channel) Reset() error {
	ch.wclosed.Store(true)
	return ch.CloseRead()
}

// closeInbound delivers the peer's close signal: Read returns io.EOF, and
// a sink is closed (its reader gets EOF).
func (ch *Channel) closeInbound() {
	ch.eofOnce.Do(func() {
		if in := ch.in(); in != readClosed { // closed for reading: it has no reader to tell
			close(in.eof)
		}
	})
	ch.closeSink()
}

// PushTo hands the channel's inbound data to f without a consumer
// goroutine: the read loop writes each message's payload into f itself,
// blocking while f takes no more (backpressure, as a consumer that does
// not read; the hang-up check still runs every stallCheck), and closes f
// at the peer's close signal, on CloseRead or Reset, when a write fails
// (the rest is dropped) and when the connection ends. f must be pollable
// (a pipe from os.Pipe), so that its writes can time out. Call it once,
// before any Read or WriteTo, which it replaces. Why: stdin that only
// waits would otherwise cost an idle session a goroutine.
func (ch *Channel) PushTo(f *os.File) {
	ch.sink.Store(f)
	select {
	case <-ch.in().eof:
		ch.closeSink()
	case <-ch.in().rclosed:
		ch.closeSink()
	case <-ch.c.done:
		ch.closeSink()
	case ch.in().req <- nil: // a message already waiting for a consumer: the read loop takes the sink
	default:
	}
}

// closeSink closes the sink, once; a Write in progress fails.
func (ch *Channel) closeSink() {
	if f := ch.sink.Load(); f != nil {
		ch.sinkOnce.Do(func() { f.Close() })
	}
}

var (
	_ stream.Stream = (*Channel)(nil)
	_ io.ReaderFrom = (*Channel)(nil)
)
