package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// startRecording opens the asciicast of a tty session when recording is on
// (nil otherwise). Output only: what the user typed is never recorded.
func (g *Gateway) startRecording(s *session) *audit.Recording {
	if !s.tty || g.opts.Recorder == nil || s.verb == "portforward" {
		return nil
	}
	owner := ""
	if s.user != nil {
		owner = s.user.Name
	}
	env := map[string]string{
		audit.OwnerEnv: owner, audit.NamespaceEnv: s.namespace, audit.PodEnv: s.pod,
		audit.ContainerEnv: s.container, audit.CommandEnv: strings.Join(s.command, " "), audit.VerbEnv: s.verb,
	}
	rec, err := g.opts.Recorder.StartEnv(s.id, s.namespace+"/"+s.pod+" "+s.verb, env, 0, 0)
	if err != nil {
		g.log.Error("recording not started", "id", s.id, "err", err)
		return nil
	}
	s.live.setRecording(rec)
	return rec
}

// sizeSink records the sizes in the client's resize payloads (JSON
// objects, whole or split across frames) into rec as they pass, in order
// with the output. A malformed payload is dropped from the recording, not
// judged: the node judges the session's resizes.
type sizeSink struct {
	rec  *audit.Recording // nil: not recorded
	live *live            // nil: not listed
	buf  []byte
}

func (k *sizeSink) feed(p []byte) {
	if len(k.buf)+len(p) > maxResizeMessage {
		k.buf = k.buf[:0]
		return
	}
	k.buf = append(k.buf, p...)
	dec := json.NewDecoder(bytes.NewReader(k.buf))
	for {
		var sz resize.Size
		if err := dec.Decode(&sz); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				k.buf = append(k.buf[:0], k.buf[dec.InputOffset():]...) // an incomplete object waits
			} else {
				k.buf = k.buf[:0]
			}
			return
		}
		if k.rec != nil {
			k.rec.Resize(int(sz.Width), int(sz.Height))
		}
		k.live.resize(int(sz.Width), int(sz.Height))
	}
}

// outputTap returns the follower of a spliced session's upstream bytes that
// copies the terminal output into rec, so spliced and translated sessions
// record the same bytes: the binary messages of WebSocket channel 1 (servers
// do not mask), or the DATA of the SPDY stream the client's SYN_STREAM named
// stdout (ids, learnt by the inspector).
func outputTap(s *session, rec *audit.Recording, ids *spdyStreamIDs) func([]byte) error {
	w := s.tap(rec)
	if w == nil || s.verb == "portforward" {
		return nil
	}
	if s.wireIn == protocol.WebSocket {
		return newWSOutput(w).feed
	}
	return newSPDYOutput(w, ids).feed
}

// newSPDYOutput records the DATA of the stream ids names stdout.
func newSPDYOutput(w io.Writer, ids *spdyStreamIDs) *spdyOutput {
	f := &spdyOutput{}
	f.scan.Frame = func(h *spdy.Frame) (bool, error) { return h.IsData(ids.stdoutID.Load()), nil }
	f.scan.Payload = func(_ *spdy.Frame, p []byte) { _, _ = w.Write(p) }
	return f
}

// spdyOutput follows server SPDY frames and records stdout's DATA.
type spdyOutput struct{ scan spdy.FrameScanner }

func (f *spdyOutput) feed(p []byte) error {
	_ = f.scan.Feed(p) // no header decoding: it cannot fail
	return nil
}

// newWSOutput records channel 1's binary messages.
func newWSOutput(w io.Writer) *wsOutput {
	f := &wsOutput{w: w, msgCh: -1}
	f.scan.Frame, f.scan.Payload = f.frame, f.payload
	return f
}

// wsOutput follows server frames and records channel 1's messages.
type wsOutput struct {
	w     io.Writer
	scan  websocket.FrameScanner
	msgCh int // channel of the message in progress (-1: not recorded)
}

func (f *wsOutput) feed(p []byte) error {
	_ = f.scan.Feed(p) // a length no server sends stops the recording only
	return nil
}

func (f *wsOutput) frame(h *websocket.Frame) (bool, error) {
	switch h.Opcode {
	case websocket.OpBinary: // a new message starts with its channel byte
		f.msgCh = -1
		return true, nil
	case websocket.OpContinuation: // keeps the message's channel
		return f.msgCh == channel.Stdout, nil
	case websocket.OpText: // base64 protocols are not recorded
		f.msgCh = -1
	}
	return false, nil // control frames may come between fragments
}

func (f *wsOutput) payload(h *websocket.Frame, off int64, p []byte) error {
	if off == 0 && h.Opcode == websocket.OpBinary {
		f.msgCh, p = int(p[0]), p[1:]
	}
	if f.msgCh == channel.Stdout {
		_, _ = f.w.Write(p)
	}
	return nil
}
