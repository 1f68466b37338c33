package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// translate runs a translated session and returns its outcome. It dials
// the upstream first, so a refusal (403, 404, a pod not running) reaches
// the client as the upstream gave it, status and body, before any upgrade,
// as the API server answers; only then does it accept the WebSocket, which
// it owns from then on, and it joins every goroutine it starts.
func (g *Gateway) translate(w http.ResponseWriter, r *http.Request, s *session) outcome {
	hdr := g.upstreamHeader(r, s.user)
	for _, k := range []string{"Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		hdr.Del(k)
	}
	target := g.upstreamURL(r.URL.Path, r.URL.RawQuery)
	sc, resp, err := spdy.Dial(r.Context(), target.String(), &spdy.DialOptions{
		Protocols: protocol.SPDYClientOffer, Header: hdr, TLSConfig: g.opts.UpstreamTLS,
		DialContext: g.opts.DialContext, Logger: g.log,
	})
	if err != nil {
		return g.refuseAsUpstream(w, s, "translate-dial", resp, err)
	}
	defer sc.Close()
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Versions: []protocol.Version{v5}, ReadLimit: g.opts.MaxMessageBytes, IdleTimeout: g.opts.IdleTimeout,
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
	want := s.want()
	client := ws.ServerSession(want)
	// The "connected" message goes out at once (the upstream has not
	// answered yet); a client may start writing stdin from here.
	_, _ = client.Connected.Write(nil)
	b := &bridge{g: g, s: s, rec: g.startRecording(s)}
	if b.rec != nil {
		defer b.rec.Close()
	}
	b.set(client, &stream.Session{Conn: sc}, true)
	s.onCut(b.cut)
	up, err := sc.OpenSession(r.Context(), want)
	if err != nil {
		cause := err
		if why := s.cutReason(); why != "" {
			cause = errors.New("the gateway ended the session: " + why)
		}
		return b.finish(status.NewInternalError(cause), cause)
	}
	b.set(client, up, true)
	return b.run()
}

// refuseAsUpstream answers a client whose upstream refused or failed the
// upgrade, before any upgrade of the client: a 4xx or 5xx refusal is
// relayed (relayRefusal: a Status document, which kubectl prints as
// "Error from server (Forbidden): ..."); any other failure is the API
// server's 500 "error dialing backend". The transports' dials keep the
// refusal's body in their UpgradeError; a plain dial leaves it in resp.
func (g *Gateway) refuseAsUpstream(w http.ResponseWriter, s *session, cause string, resp *http.Response, err error) outcome {
	if resp == nil || resp.StatusCode < 400 || resp.StatusCode > 599 {
		return g.upstreamFailed(w, s, cause, err)
	}
	var body io.Reader = resp.Body
	var ue *stream.UpgradeError
	switch {
	case errors.As(err, &ue):
		body = bytes.NewReader(ue.Body)
	case body == nil:
		body = http.NoBody
	}
	g.relayRefusal(w, s, cause, resp, body)
	return outcomeRefused
}
