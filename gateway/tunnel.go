package gateway

import (
	"net/http"
	"strings"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// unwrapTunnel carries a port-forward tunnel (SPDY inside a WebSocket,
// PROTOCOL.md 7) to a SPDY-only upstream as the API server does: the
// request becomes a SPDY upgrade (POST, one X-Stream-Protocol-Version per
// offered name with the prefix stripped); only after the upstream's 101
// does the gateway complete the client's WebSocket handshake, naming
// SPDY/3.1+<upstream's choice>; then the tunnel's bytes and the upstream
// socket are spliced. A refusal is relayed like any other.
func (g *Gateway) unwrapTunnel(w http.ResponseWriter, r *http.Request, s *session) outcome {
	out := g.newUpstreamRequest(r, s)
	out.Method = http.MethodPost
	for _, k := range []string{"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		out.Header.Del(k)
	}
	out.Header.Set("Upgrade", spdy.HeaderSPDY31)
	for _, p := range protocol.SplitHeader(r.Header.Values(protocol.HeaderWebSocketProtocol)) {
		if name, ok := strings.CutPrefix(p, protocol.TunnelPrefix); ok {
			out.Header.Add(protocol.HeaderStreamProtocol, name)
		}
	}
	up, br, resp, err := g.roundTripUpgrade(r.Context(), out)
	if err != nil {
		return g.upstreamFailed(w, s, "dial", err)
	}
	if !g.acceptUpgrade(w, s, up, resp, spdy.HeaderSPDY31) {
		return outcomeRefused
	}
	chosen := resp.Header.Get(protocol.HeaderStreamProtocol)
	tun, err := websocket.AcceptTunnel(w, r, &websocket.TunnelOptions{
		Protocols: []string{chosen}, ReadLimit: g.opts.MaxMessageBytes,
		InsecureSkipOriginCheck: true, // checked before the session began
		Logger:                  g.log,
		KeepAlive:               g.opts.KeepAlive, OnKeepAlive: g.metrics.keepAlives.Inc,
	})
	if err != nil {
		up.Close()
		s.fail("accept tunnel: " + err.Error())
		return outcomeRefused
	}
	return g.splice(s, tun, tun, up, br, g.spdyInspector(nil, nil), nil, nil)
}
