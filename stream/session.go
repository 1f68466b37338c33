package stream

import (
	"errors"
	"io"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// Session is one exec or attach session's streams, whatever the wire and
// whichever side. The transports build it, once per wire and side
// (websocket.Conn.ClientSession and ServerSession, spdy.Conn.OpenSession and
// AcceptSession, from the table protocol.Version.Streams); the client, the
// node and the gateway's bridge use only this.
type Session struct {
	Conn    Conn
	Version protocol.Version
	Want    protocol.Want
	// The session's streams; nil where the session has none.
	Stdin, Stdout, Stderr, Error, Resize Stream
	// Connected is, for a server over WebSocket, the stream that carries the
	// empty "connected" message once the process runs (PROTOCOL.md 3.5): the
	// lowest channel the server writes. Nil elsewhere.
	Connected Stream
	// HalfClose: a server ends its output streams with FIN (SPDY).
	// WebSocket has no server-side half-close.
	HalfClose bool
}

// MaxStatusBytes bounds what is kept of an error stream.
const MaxStatusBytes = 64 << 10

// ReadStatus reads the error stream to its end (payloads concatenate until
// it ends, PROTOCOL.md 3.8), keeping MaxStatusBytes and dropping the rest so
// the stream never stalls the connection. err is nil when the stream ended
// cleanly.
func (s *Session) ReadStatus() ([]byte, error) {
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := s.Error.Read(buf)
		if room := MaxStatusBytes - len(b); n > 0 && room > 0 {
			b = append(b, buf[:min(n, room)]...)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return b, err
		}
	}
}

// DecodeStatus returns the outcome b reports in this session's version:
// nil for success, a *status.ExitError, a *status.Error or a
// *status.ProtocolError.
func (s *Session) DecodeStatus(b []byte) error {
	if s.Version.StatusJSON {
		return status.Decode(b)
	}
	return status.DecodeText(b)
}

// EncodeStatus returns st in this session's version: the Status document
// (v4, v5), or before v4 the failure's message and nothing on success.
func (s *Session) EncodeStatus(st *status.Status) []byte {
	if s.Version.StatusJSON {
		return st.Marshal()
	}
	if st.Status == status.Success {
		return nil
	}
	return []byte(st.Message)
}

// WriteStatus ends a server's side of the session after its output: the
// outputs are half-closed where the wire can, then st (nil: none) goes on
// the error stream in the version's form and the error stream ends. It
// leaves Conn open.
func (s *Session) WriteStatus(st *status.Status) error {
	if s.HalfClose {
		for _, o := range []Stream{s.Stdout, s.Stderr} {
			if o != nil {
				_ = o.CloseWrite()
			}
		}
	}
	if s.Error == nil {
		return nil
	}
	var err error
	if st != nil {
		if b := s.EncodeStatus(st); len(b) > 0 {
			_, err = s.Error.Write(b)
		}
	}
	if s.HalfClose {
		_ = s.Error.CloseWrite()
	}
	return err
}

// Slot returns where a stream of type typ belongs in s, nil for no type of
// a session.
func (s *Session) Slot(typ string) *Stream {
	switch typ {
	case protocol.StreamError:
		return &s.Error
	case protocol.StreamStdin:
		return &s.Stdin
	case protocol.StreamStdout:
		return &s.Stdout
	case protocol.StreamStderr:
		return &s.Stderr
	case protocol.StreamResize:
		return &s.Resize
	}
	return nil
}
