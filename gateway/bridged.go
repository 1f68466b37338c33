package gateway

import (
	"net/http"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// bridgedPath reports whether the session must be terminated on both
// sides, so that the gateway writes its stdin itself: a moderated session
// (its stdin waits for the moderator) or, with Options.JoinableSessions, an
// interactive one (joiners' keystrokes go in). A spliced session's stdin
// passes through unread and could be neither held nor joined.
func (g *Gateway) bridgedPath(s *session) bool {
	if s.verb == "portforward" {
		return false
	}
	return s.moderated || (g.opts.JoinableSessions && s.stdin)
}

// canBridge: the client speaks a wire the bridge serves: SPDY, or
// WebSocket with a remote-command version the node serves (v5 down to v1,
// plain or base64). The bridge terminates the client itself, so it is not
// bound by the API server's translator, which takes v5 only: clients that
// speak v4 alone (the official Python client, for one) are joined and
// moderated too.
func canBridge(r *http.Request, s *session) bool {
	return s.wireIn == protocol.SPDY || (s.wireIn == protocol.WebSocket && offersChannelVersion(r))
}

// offersChannelVersion: the client offers a remote-command version the
// bridge serves over WebSocket (protocol.WebSocketVersions).
func offersChannelVersion(r *http.Request) bool {
	offered := protocol.SplitHeader(r.Header.Values(protocol.HeaderWebSocketProtocol))
	_, ok := protocol.Negotiate(offered, protocol.Names(protocol.WebSocketVersions))
	return ok
}

// serveBridged runs a session bridged between the client's wire and the
// upstream's (dialUpstreamSession: the upstream's wire, WebSocket first).
// The upstream is dialled first, so its refusal reaches the client before
// any upgrade, as in translate.
func (g *Gateway) serveBridged(w http.ResponseWriter, r *http.Request, s *session) outcome {
	ur := r.Clone(r.Context())
	ur.Header.Del(protocol.HeaderStreamProtocol) // the SPDY client's offer; the dial makes its own
	up, closeUp, resp, err := g.dialUpstreamSession(ur, s)
	if err != nil {
		return g.refuseAsUpstream(w, s, "bridge-dial", resp, err)
	}
	defer closeUp()
	b := &bridge{g: g, s: s, rec: g.startRecording(s)}
	if b.rec != nil {
		defer b.rec.Close()
	}
	want := s.want()
	if s.wireIn == protocol.WebSocket {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Versions: protocol.WebSocketVersions, ReadLimit: g.opts.MaxMessageBytes, IdleTimeout: g.opts.IdleTimeout,
			KeepAlive: g.opts.KeepAlive, OnKeepAlive: g.metrics.keepAlives.Inc,
			InsecureSkipOriginCheck: true, // checked before the session began
			Logger:                  g.log,
		})
		if err != nil {
			s.fail("accept websocket: " + err.Error())
			return outcomeRefused
		}
		if protocol.DropsEarlyMessages(r.UserAgent()) {
			protocol.HoldEarlyMessages(ws.Context())
		}
		client := ws.ServerSession(want)
		_, _ = client.Connected.Write(nil)
		b.set(client, up, true)
		s.onCut(b.cut)
		return b.run()
	}
	sc, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{Protocols: spdyServerVersions, IdleTimeout: g.opts.IdleTimeout,
		KeepAlive: g.opts.KeepAlive, OnKeepAlive: g.metrics.keepAlives.Inc, Logger: g.log})
	if err != nil {
		s.fail("spdy upgrade: " + err.Error())
		return outcomeRefused
	}
	defer sc.Close()
	b.set(&stream.Session{Conn: sc}, up, false)
	s.onCut(b.cut)
	client, err := sc.AcceptSession(r.Context(), want, spdyStreamTimeout)
	if err != nil {
		s.fail("accept streams: " + err.Error())
		return outcomeError
	}
	b.set(client, up, true)
	return b.run()
}
