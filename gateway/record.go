package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/protocol/resize"
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
	rec, err := g.opts.Recorder.StartOwned(s.id, s.namespace+"/"+s.pod+" "+s.verb, owner, 0, 0)
	if err != nil {
		g.log.Error("recording not started", "id", s.id, "err", err)
		return nil
	}
	return rec
}

// sizeSink records the sizes in the client's resize payloads (JSON
// objects, whole or split across frames) into rec as they pass, in order
// with the output. A malformed payload is dropped from the recording, not
// judged: the node judges the session's resizes.
type sizeSink struct {
	rec *audit.Recording
	buf []byte
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
		k.rec.Resize(int(sz.Width), int(sz.Height))
	}
}

// outputTap returns the follower of a spliced session's upstream bytes that
// copies the terminal output into rec, so spliced and translated sessions
// record the same bytes: WebSocket binary frames on channel 1 (servers do
// not mask), or the SPDY DATA frames of the stdout stream, whose ID follows
// from client-go's stream order (error 1, then stdin 3 if requested, then
// stdout).
func outputTap(s *session, rec *audit.Recording) func([]byte) error {
	if rec == nil {
		return nil
	}
	if s.wireIn == string(protocol.WebSocket) {
		t := &wsOutput{w: rec}
		return t.feed
	}
	id := uint32(3)
	if s.stdin {
		id = 5
	}
	t := &spdyOutput{w: rec, stdout: id}
	return t.feed
}

// wsOutput follows unmasked server frames.
type wsOutput struct {
	w     io.Writer
	hdr   [10]byte
	have  int
	need  int
	left  int64
	first bool // next payload byte is a message's channel byte
	msgCh int  // channel of the message in progress (-1: not recorded)
}

func (f *wsOutput) feed(p []byte) error {
	for len(p) > 0 {
		if f.left > 0 {
			if f.first {
				f.msgCh = int(p[0])
				f.first = false
				f.left--
				p = p[1:]
				continue
			}
			n := min(int64(len(p)), f.left)
			if f.msgCh == channel.Stdout {
				f.w.Write(p[:n])
			}
			f.left -= n
			p = p[n:]
			continue
		}
		f.hdr[f.have] = p[0]
		f.have++
		p = p[1:]
		if f.have == 2 {
			f.need = 2
			switch f.hdr[1] & 0x7f {
			case 126:
				f.need = 4
			case 127:
				f.need = 10
			}
		}
		if f.have < 2 || f.have < f.need {
			continue
		}
		length := int64(f.hdr[1] & 0x7f)
		switch f.need {
		case 4:
			length = int64(binary.BigEndian.Uint16(f.hdr[2:4]))
		case 10:
			length = int64(binary.BigEndian.Uint64(f.hdr[2:10]) & (1<<62 - 1))
		}
		switch op := f.hdr[0] & 0x0f; op {
		case 2: // binary: a new message starts with its channel byte
			f.first = true
		case 0: // continuation keeps the message's channel
		default: // text (base64 protocols) and control frames are not recorded
			f.msgCh = -1
		}
		f.left = length
		f.have, f.need = 0, 0
	}
	return nil
}

// spdyOutput follows server SPDY frames and records one stream's DATA.
type spdyOutput struct {
	w      io.Writer
	stdout uint32
	hdr    [8]byte
	have   int
	left   int64
	record bool
}

func (f *spdyOutput) feed(p []byte) error {
	for len(p) > 0 {
		if f.left > 0 {
			n := min(int64(len(p)), f.left)
			if f.record {
				f.w.Write(p[:n])
			}
			f.left -= n
			p = p[n:]
			continue
		}
		n := copy(f.hdr[f.have:], p)
		f.have += n
		p = p[n:]
		if f.have < 8 {
			continue
		}
		f.have = 0
		f.left = int64(f.hdr[5])<<16 | int64(f.hdr[6])<<8 | int64(f.hdr[7])
		f.record = f.hdr[0]&0x80 == 0 && binary.BigEndian.Uint32(f.hdr[0:4]) == f.stdout
	}
	return nil
}
