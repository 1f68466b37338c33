package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/transport/spdy"
)

// tunnelSPDYToWS carries a plain SPDY port-forward to a WebSocket-only
// upstream by wrapping it in the tunnel (PROTOCOL.md 7), the reverse of
// unwrapTunnel: the upstream is dialled first with SPDY/3.1+<name> for every
// protocol the client offered; only after its 101 does the client get its
// own 101 naming the chosen protocol; then the client's SPDY bytes travel as
// binary messages.
func (g *Gateway) tunnelSPDYToWS(w http.ResponseWriter, r *http.Request, s *session) outcome {
	var offers []string
	for _, p := range protocol.SplitHeader(r.Header.Values(protocol.HeaderStreamProtocol)) {
		offers = append(offers, protocol.TunnelPrefix+p)
	}
	hdr, hc, target := g.wsUpstream(r, s)
	defer hc.CloseIdleConnections()
	c, resp, err := ws.Dial(r.Context(), target.String(), &ws.DialOptions{HTTPClient: hc, HTTPHeader: hdr, Subprotocols: offers})
	if err != nil {
		return g.refuseAsUpstream(w, s, "tunnel-dial", resp, err)
	}
	chosen, ok := strings.CutPrefix(c.Subprotocol(), protocol.TunnelPrefix)
	if !ok {
		c.Close(ws.StatusProtocolError, "no tunnelled protocol chosen")
		return g.upstreamFailed(w, s, "tunnel-dial", errors.New("upstream chose no tunnelled protocol"))
	}
	c.SetReadLimit(g.opts.MaxMessageBytes)
	up := tunnelConn{Conn: ws.NetConn(context.WithoutCancel(r.Context()), c, ws.MessageBinary), ws: c}
	client, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		s.fail("hijack: " + err.Error())
		return outcomeError
	}
	head := &http.Response{Header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {spdy.HeaderSPDY31},
		protocol.HeaderStreamProtocol: {chosen}}}
	if err := writeHead(client, cbuf.Writer, head); err != nil {
		up.Close()
		client.Close()
		s.fail("write 101: " + err.Error())
		return outcomeError
	}
	return g.splice(s, client, cbuf.Reader, up, up, g.spdyInspector(nil, nil), nil, nil)
}

// tunnelConn is the upstream tunnel as a net.Conn whose CloseWrite ends the
// WebSocket. A SPDY client's FIN ends its session (SPDY streams close
// themselves; a half-open connection has no use), and a WebSocket cannot be
// half-closed: without this the upstream never learned of it, and the
// splice held both sides for its whole end grace (a soak leak).
type tunnelConn struct {
	net.Conn
	ws *ws.Conn
}

func (t tunnelConn) CloseWrite() error {
	return t.ws.Close(ws.StatusNormalClosure, "the client closed its side")
}
