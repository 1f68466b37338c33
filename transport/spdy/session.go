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
// the streams the server counts (PROTOCOL.md 4.2), in client-go's order.
// Unlike client-go, which waits for each SYN_REPLY before the next
// SYN_STREAM, it sends them all and then waits for the replies: one round
// trip instead of one per stream (servers, the kubelet's included, collect
// the streams as they come). On failure the connection is aborted.
func (c *Conn) OpenSession(ctx context.Context, want protocol.Want) (*stream.Session, error) {
	v, ok := protocol.SPDYClientVersion(c.protocol)
	if !ok {
		_ = c.Abort("unoffered protocol")
		return nil, fmt.Errorf("server chose protocol %q, which was not offered", c.protocol)
	}
	s := &stream.Session{Conn: c, Version: v, Want: want, HalfClose: true}
	types := v.Streams(want)
	opened := make([]*Stream, 0, len(types))
	for _, st := range types {
		o, err := c.create(http.Header{protocol.HeaderStreamType: {st.Type}})
		if err != nil {
			_ = c.Abort("open stream failed")
			return nil, &stream.Error{Stream: st.Type, Err: err}
		}
		opened = append(opened, o)
	}
	t := time.NewTimer(openTimeout)
	defer t.Stop()
	for i, o := range opened {
		if err := c.awaitReply(ctx, o, t.C); err != nil {
			_ = c.Abort("open stream failed")
			return nil, &stream.Error{Stream: types[i].Type, Err: err}
		}
		*s.Slot(types[i].Type) = o
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
