package spdy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

// ErrMissingStreams: the client did not open, in time, the streams its
// request implies (the kubelet's words).
var ErrMissingStreams = errors.New("timed out waiting for client to create streams")

// OpenSession opens the client's side of an exec or attach session: exactly
// the streams the server counts (PROTOCOL.md 4.2), in client-go's order,
// each after the previous one was answered. On failure the connection is
// aborted.
func (c *Conn) OpenSession(ctx context.Context, want protocol.Want) (*stream.Session, error) {
	v, ok := protocol.SPDYClientVersion(c.protocol)
	if !ok {
		_ = c.Abort("unoffered protocol")
		return nil, fmt.Errorf("server chose protocol %q, which was not offered", c.protocol)
	}
	s := &stream.Session{Conn: c, Version: v, Want: want, HalfClose: true}
	for _, st := range v.Streams(want) {
		o, err := c.Open(ctx, http.Header{protocol.HeaderStreamType: {st.Type}})
		if err != nil {
			_ = c.Abort("open stream failed")
			return nil, &stream.Error{Stream: st.Type, Err: err}
		}
		*s.Slot(st.Type) = o
	}
	return s, nil
}

// AcceptSession takes the server's side of an exec or attach session: it
// accepts streams until it has the set the request implies, within timeout.
// Unlike the kubelet, which only counts, it checks each stream's type and
// resets duplicates and types the session does not have. Once complete,
// further streams are refused. A v1 session's error stream is reset and its
// stdin half-closed at once, the historic quirk kept by the kubelet
// (PROTOCOL.md 4.3, 4.4).
func (c *Conn) AcceptSession(ctx context.Context, want protocol.Want, timeout time.Duration) (*stream.Session, error) {
	v, ok := protocol.Lookup(protocol.SPDYVersions, c.protocol)
	if !ok {
		return nil, fmt.Errorf("no session for protocol %q", c.protocol)
	}
	s := &stream.Session{Conn: c, Version: v, Want: want, HalfClose: true}
	missing := map[string]bool{}
	for _, st := range v.Streams(want) {
		missing[st.Type] = true
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for len(missing) > 0 {
		st, err := c.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ErrMissingStreams
			}
			return nil, err
		}
		typ := strings.ToLower(st.Headers().Get(protocol.HeaderStreamType))
		if !missing[typ] {
			c.log.Info("resetting unexpected stream", "streamtype", typ)
			_ = st.Reset()
			continue
		}
		*s.Slot(typ) = st
		delete(missing, typ)
	}
	c.RefuseStreams()
	if v.ResetErrorStream {
		_ = s.Error.Reset()
		s.Error = nil
		if s.Stdin != nil {
			_ = s.Stdin.CloseWrite()
		}
	}
	return s, nil
}
