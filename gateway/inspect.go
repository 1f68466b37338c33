package gateway

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// inspector returns the check applied to the client's bytes of a spliced
// session: frame headers are followed (payloads are not copied or unmasked,
// except a data message's channel byte) so that an oversized frame or a
// resize flood ends the session. The limit errors end only that session.
//
// With onResize, the payloads of the client's resize messages (the JSON
// sizes) are handed to it, for the recording: on WebSocket channel 4, on
// SPDY the stream whose SYN_STREAM says it is the resize stream. Over SPDY
// the client's header blocks are decoded (within the transport's limits)
// and the streams' IDs noted in ids, for the closer and the recorder.
func (g *Gateway) inspector(s *session, onResize func([]byte), ids *spdyStreamIDs) func([]byte) error {
	switch s.wireIn {
	case protocol.WebSocket:
		return newWSInspect(g.opts.MaxMessageBytes, g.opts.MaxResizePerSecond, s.verb == "portforward", onResize).feed
	case protocol.SPDY:
		if !s.tty || s.verb == "portforward" {
			onResize = nil
		}
		return g.spdyInspector(onResize, ids)
	}
	return nil
}

// spdyInspector is the check of a client's SPDY bytes (see inspector),
// also where SPDY travels in a WebSocket tunnel.
func (g *Gateway) spdyInspector(onResize func([]byte), ids *spdyStreamIDs) func([]byte) error {
	return newSPDYInspect(g.opts.MaxMessageBytes, onResize, ids).feed
}

// maxResizeMessage bounds what is collected of one resize message.
const maxResizeMessage = 1024

// LimitError ends a session that broke a limit.
type LimitError struct {
	Msg  string
	Code uint16 // WebSocket close code for the client (0: policy violation)
}

func (e *LimitError) closeCode() uint16 {
	if e.Code == 0 {
		return closePolicy
	}
	return e.Code
}

func (e *LimitError) Error() string { return e.Msg }

// wsInspect follows the client's RFC 6455 frames.
type wsInspect struct {
	scan    websocket.FrameScanner
	max     int64
	resizes *rate
	tunnel  bool
	// onResize receives each resize message's payload (after the channel
	// byte), unmasked; collecting says the frame in progress is one.
	onResize   func([]byte)
	collecting bool
	resize     []byte
}

// newWSInspect checks frames against max bytes and, unless tunnel (whose
// channels are ports), resize messages against resizesPerSecond.
func newWSInspect(max int64, resizesPerSecond int, tunnel bool, onResize func([]byte)) *wsInspect {
	f := &wsInspect{max: max, resizes: newRate(resizesPerSecond), tunnel: tunnel, onResize: onResize}
	f.scan.Frame, f.scan.Payload = f.frame, f.payload
	return f
}

func (f *wsInspect) feed(p []byte) error {
	err := f.scan.Feed(p)
	if errors.Is(err, websocket.ErrFrameLength) {
		return &LimitError{Msg: err.Error(), Code: 1002}
	}
	return err
}

// frame judges a frame's length and asks for the payload of data frames,
// whose first byte is the channel, and of a resize message's continuation.
func (f *wsInspect) frame(h *websocket.Frame) (bool, error) {
	if h.Length > f.max {
		return false, &LimitError{Msg: fmt.Sprintf("websocket message of %d bytes exceeds the limit of %d", h.Length, f.max), Code: closeTooBig}
	}
	switch h.Opcode {
	case websocket.OpText, websocket.OpBinary:
		f.collecting = false
		return !f.tunnel, nil
	case websocket.OpContinuation:
		return f.collecting, nil
	}
	return false, nil
}

// payload checks a data message's channel byte against the resize rate and
// collects a resize message for onResize.
func (f *wsInspect) payload(h *websocket.Frame, off int64, p []byte) error {
	if off == 0 && h.Opcode != websocket.OpContinuation {
		ch := p[0] ^ h.Mask[0]
		if ch == channel.Resize && !f.resizes.allow() {
			return &LimitError{Msg: "resize flood: more than the allowed resize messages per second"}
		}
		f.collecting = ch == channel.Resize && f.onResize != nil && h.Fin
		f.resize = f.resize[:0]
		p, off = p[1:], 1
	}
	if f.collecting && len(f.resize) < maxResizeMessage {
		f.resize = websocket.Unmask(f.resize, h.Mask, off, p[:min(len(p), maxResizeMessage-len(f.resize))])
	}
	if f.collecting && off+int64(len(p)) == h.Length {
		f.onResize(f.resize)
		f.collecting = false
	}
	return nil
}

// spdyStreamIDs are the IDs of a spliced SPDY session's streams, as the
// client's SYN_STREAM headers name them: the inspector, following the
// client's bytes, writes them; the closer and the recorder, following the
// upstream's, read them (0: not known yet).
type spdyStreamIDs struct {
	errorID, stdoutID atomic.Uint32
}

// spdyInspect follows the client's SPDY/3.1 frames.
type spdyInspect struct {
	scan     spdy.FrameScanner
	max      int64
	ids      *spdyStreamIDs
	resizeID uint32
	onResize func([]byte)
}

// newSPDYInspect checks frames against max bytes, notes the streams in ids
// (when not nil) and hands the resize stream's data to onResize (when set).
func newSPDYInspect(max int64, onResize func([]byte), ids *spdyStreamIDs) *spdyInspect {
	f := &spdyInspect{max: max, ids: ids, onResize: onResize}
	f.scan.Frame, f.scan.Payload, f.scan.Header = f.frame, f.payload, f.header
	return f
}

func (f *spdyInspect) feed(p []byte) error {
	if err := f.scan.Feed(p); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return err
		}
		return &LimitError{Msg: "spdy stream the gateway cannot follow: " + err.Error()}
	}
	return nil
}

func (f *spdyInspect) frame(h *spdy.Frame) (bool, error) {
	if int64(h.Length) > f.max {
		return false, &LimitError{Msg: fmt.Sprintf("spdy frame of %d bytes exceeds the limit of %d", h.Length, f.max)}
	}
	return f.onResize != nil && h.IsData(f.resizeID), nil
}

func (f *spdyInspect) payload(_ *spdy.Frame, p []byte) { f.onResize(p) }

// header notes the streams the session's parts travel on.
func (f *spdyInspect) header(id uint32, name, value []byte) {
	if !strings.EqualFold(string(name), protocol.HeaderStreamType) {
		return
	}
	switch string(value) {
	case protocol.StreamError:
		if f.ids != nil {
			f.ids.errorID.Store(id)
		}
	case protocol.StreamStdout:
		if f.ids != nil {
			f.ids.stdoutID.Store(id)
		}
	case protocol.StreamResize:
		f.resizeID = id
	}
}

// rate allows n events per second (a fixed one-second window).
type rate struct {
	n      int
	window time.Time
	count  int
}

func newRate(n int) *rate { return &rate{n: n} }

func (r *rate) allow() bool {
	now := time.Now()
	if now.Sub(r.window) >= time.Second {
		r.window, r.count = now, 0
	}
	r.count++
	return r.count <= r.n
}
