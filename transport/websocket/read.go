package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
)

// readLoop reads every frame of the connection until it ends. It must always
// run: coder/websocket answers pings and sees close frames only while someone
// reads. It uses a context that is never cancelled, because coder/websocket
// closes the connection when a read's context ends; endings go through the
// socket instead.
func (c *Conn) readLoop() {
	defer c.wg.Done()
	err := c.readMessages()
	c.endRead(err)
}

func (c *Conn) readMessages() error {
	ctx := context.Background()
	for {
		c.readWaiting.Store(time.Now().UnixNano())
		_, r, err := c.ws.Reader(ctx)
		now := time.Now().UnixNano()
		c.readWaiting.Store(0)
		c.lastIn.Store(now)
		if err != nil {
			return err
		}
		// Binary versions accept text frames too and base64 versions binary
		// frames, as the x/net servers do: the frame type is not checked.
		if c.version.Base64 {
			err = c.readBase64(r)
		} else {
			err = c.readBinary(r)
		}
		if err != nil {
			return err
		}
	}
}

// endRead settles the connection's fate once the read loop stops.
func (c *Conn) endRead(err error) {
	local := c.isClosing()
	if !local && ws.CloseStatus(err) != ws.StatusNormalClosure {
		c.fail(&stream.ConnError{Op: "read message", Err: err})
	}
	c.startClosing()
	close(c.done)
	for _, ch := range c.channels {
		ch.closeSink()
	}
	c.cancel()
	if !local {
		// The peer closed or broke the connection, or coder/websocket
		// already sent a close frame for a protocol error or an oversized
		// message: release the socket (gracefully, so that frame arrives).
		_ = c.ws.CloseNow()
	}
}

// readBinary handles one binary-protocol message: channel byte, payload.
func (c *Conn) readBinary(r io.Reader) error {
	head := c.head[:]
	n, err := io.ReadFull(r, head[:2])
	switch {
	case n == 0 && err == io.EOF:
		return nil // empty message: skipped
	case err != nil && err != io.ErrUnexpectedEOF:
		return err
	}
	if c.idle != nil {
		c.idle.Touch()
	}
	id := head[0]
	if id == channel.CloseSignal && c.version.CloseSignal && !c.client {
		return c.readCloseSignal(r, head, n)
	}
	if n == 1 {
		return nil // channel byte only: the "connected" message
	}
	if int(id) >= len(c.channels) {
		return c.drop(id, r, "unknown channel")
	}
	c.body = prefixReader{b: head[1], r: r}
	return c.deliver(c.channels[id], &c.body)
}

// readCloseSignal checks a v5 close signal: exactly {0xFF, ch} with ch a
// channel we have; anything else aborts the connection with 1002, as the
// Kubernetes servers drop it (PROTOCOL.md 3.9).
func (c *Conn) readCloseSignal(r io.Reader, head []byte, n int) error {
	if n == 2 {
		m, err := io.ReadFull(r, head[2:3])
		if err != nil && err != io.EOF {
			return err
		}
		n += m
	}
	ch, err := channel.ParseCloseSignal(head[:n], len(c.channels))
	if err != nil {
		c.log.Debug("websocket protocol error", "err", err)
		c.abort(ws.StatusProtocolError, err.Error(), &stream.ConnError{Op: "decode close signal", Err: err})
		return errAborted
	}
	c.channels[ch].closeInbound()
	return nil
}

// readBase64 handles one base64-protocol message. The whole message is read
// (bounded by the read limit) because invalid base64 drops it entirely.
func (c *Conn) readBase64(r io.Reader) error {
	msg, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(msg) == 0 {
		return nil
	}
	if c.idle != nil {
		c.idle.Touch()
	}
	id, payload, err := channel.DecodeBase64(nil, msg)
	switch {
	case err != nil:
		return c.drop(msg[0]-'0', nil, "invalid base64")
	case int(id) >= len(c.channels):
		return c.drop(id, nil, "unknown channel")
	case len(payload) == 0:
		return nil
	}
	return c.deliver(c.channels[id], bytes.NewReader(payload))
}

// drop discards a message the connection has no use for, like the
// Kubernetes servers do (logged, not fatal).
func (c *Conn) drop(id byte, body io.Reader, why string) error {
	c.dropped.Add(1)
	c.log.Debug("websocket message dropped", "channel", id, "reason", why)
	if body == nil {
		return nil
	}
	_, err := io.Copy(io.Discard, body)
	return err
}

// deliver hands body to ch's reader: each Read call of the consumer is served
// by one Read of body into the consumer's buffer, so nothing is copied or
// buffered in between and a consumer that stops reading stops this loop
// (backpressure). It returns at the end of body, or discards the rest when
// the channel was closed for reading or the connection is closing.
func (c *Conn) deliver(ch *Channel, body io.Reader) error {
	select {
	case <-ch.in().eof:
		return c.drop(ch.id, body, "channel closed by the peer")
	case <-ch.in().rclosed:
		return c.drop(ch.id, body, "channel closed for reading")
	default:
	}
	for {
		if f := ch.sink.Load(); f != nil {
			return c.push(ch, f, body)
		}
		select {
		case ch.in().ready <- struct{}{}: // wake a WriteTo waiting without a buffer
		default:
		}
		select {
		case p := <-ch.in().req:
			if p == nil {
				continue // PushTo set a sink
			}
			n, err := body.Read(p)
			if err != nil && err != io.EOF {
				// A frame cut short: coder/websocket returns its bytes
				// still masked on the server side. The connection is
				// ending; its bytes are not data (a resumed session
				// sends them again).
				n = 0
			}
			ch.in().resp <- n
			if err == nil && n > 0 {
				// A read that took a message's last bytes does not
				// report its end: the next one does, and without
				// blocking. Ask now, so that the consumer's next Read
				// waits for the next message instead of making a
				// round trip through this loop for the EOF (one
				// hand-over per message instead of two).
				_, err = body.Read(nil)
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		case <-ch.in().rclosed:
			return c.drop(ch.id, body, "channel closed for reading")
		case <-c.closing:
			_, err := io.Copy(io.Discard, body)
			return err
		case <-c.stalled():
			if err := c.checkPeer(); err != nil {
				return err
			}
		}
	}
}

// push writes body into ch's sink (PushTo) through a pooled buffer, held
// only while the message moves. A sink that fails (its reader is gone) is
// closed and the channel's later data dropped, as the Kubernetes servers
// drop data for a stream nobody reads.
func (c *Conn) push(ch *Channel, f *os.File, body io.Reader) error {
	if ch.sinkFailed {
		return c.drop(ch.id, body, "stdin sink closed")
	}
	bp := c.pool.Get()
	defer c.pool.Put(bp)
	for {
		n, err := body.Read(*bp)
		if err != nil && err != io.EOF {
			n = 0 // a frame cut short: see deliver
		}
		if n > 0 {
			if werr := c.writeSink(ch, f, (*bp)[:n]); werr != nil {
				if errors.Is(werr, errAborted) {
					return werr
				}
				c.log.Debug("websocket channel sink failed", "channel", ch.id, "err", werr)
				ch.sinkFailed = true
				ch.closeSink()
				if err == nil {
					return c.drop(ch.id, body, "stdin sink closed")
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writeSink writes p to f, looking at the peer every stallCheck while f
// takes nothing (see checkPeer), and giving up once the connection ends.
func (c *Conn) writeSink(ch *Channel, f *os.File, p []byte) error {
	for len(p) > 0 {
		_ = f.SetWriteDeadline(time.Now().Add(stallCheck))
		n, err := f.Write(p)
		p = p[n:]
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			select {
			case <-c.closing:
				return net.ErrClosed
			case <-ch.in().rclosed:
				return stream.ErrClosed
			default:
			}
			if err := c.checkPeer(); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// prefixReader returns one byte read ahead, then the rest of the message.
type prefixReader struct {
	b    byte
	done bool
	r    io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if p.done {
		return p.r.Read(b)
	}
	if len(b) == 0 {
		return 0, nil
	}
	p.done = true
	b[0] = p.b
	n, err := p.r.Read(b[1:])
	if errors.Is(err, io.EOF) {
		err = io.EOF
	}
	return 1 + n, err
}
