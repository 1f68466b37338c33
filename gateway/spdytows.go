package gateway

import (
	"net/http"
	"net/url"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// spdyServerVersions are what the gateway serves a SPDY client whose
// upstream speaks only WebSocket v5: the other direction of the API server's
// translator, which the API server itself does not offer.
var spdyServerVersions = []string{protocol.V4, protocol.V3, protocol.V2}

// translateSPDY dials the WebSocket upstream first, so its refusal reaches
// the SPDY client before any upgrade, as the API server's would (see
// translate), then upgrades the client and translates.
func (g *Gateway) translateSPDY(w http.ResponseWriter, r *http.Request, s *session) outcome {
	hdr, hc, target := g.wsUpstream(r, s)
	defer hc.CloseIdleConnections()
	ws, resp, err := websocket.Dial(r.Context(), target.String(), &websocket.DialOptions{Header: hdr, HTTPClient: hc,
		ReadLimit: g.opts.MaxMessageBytes, Logger: g.log})
	if err != nil {
		return g.refuseAsUpstream(w, s, "translate-dial", resp, err)
	}
	defer ws.Close()
	sc, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{Protocols: spdyServerVersions, IdleTimeout: g.opts.IdleTimeout,
		KeepAlive: g.opts.KeepAlive, OnKeepAlive: g.metrics.keepAlives.Inc, Logger: g.log})
	if err != nil {
		s.fail("spdy upgrade: " + err.Error())
		return outcomeRefused
	}
	defer sc.Close()
	b := &bridge{g: g, s: s, rec: g.startRecording(s)}
	if b.rec != nil {
		defer b.rec.Close()
	}
	b.set(&stream.Session{Conn: sc}, nil, false)
	s.onCut(b.cut)
	want := s.want()
	client, err := sc.AcceptSession(r.Context(), want, spdyStreamTimeout)
	if err != nil {
		s.fail("accept streams: " + err.Error())
		return outcomeError
	}
	b.set(client, ws.ClientSession(want), true)
	return b.run()
}

// spdyStreamTimeout bounds how long a SPDY client may take to open its
// session's streams (the kubelet's default).
const spdyStreamTimeout = 30 * time.Second

// wsUpstream is what a WebSocket dial to the upstream for a SPDY client's
// request needs: the headers the upstream should see (without the SPDY
// upgrade's), a client that follows no redirect, and the target.
func (g *Gateway) wsUpstream(r *http.Request, s *session) (http.Header, *http.Client, *url.URL) {
	hdr := g.upstreamHeader(r, s.user)
	for _, k := range []string{"Upgrade", protocol.HeaderStreamProtocol} {
		hdr.Del(k)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: g.opts.DialContext, TLSClientConfig: g.opts.UpstreamTLS},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return hdr, hc, g.upstreamURL(r.URL.Path, r.URL.RawQuery)
}
