package node

import (
	"context"
	"net/http"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
)

// wsVersions are the remote-command versions served over WebSocket,
// including clients that offer no subprotocol at all.
var wsVersions = append(append([]protocol.Version(nil), protocol.WebSocketVersions...), protocol.UnnamedWebSocket)

// serveWebSocket starts one exec or attach over WebSocket (PROTOCOL.md 3)
// and returns: the session runs on a goroutine of its own, tracked with its
// connection (Shutdown waits for it), so that net/http's connection, its
// buffers, the request and the handler's deep stack are freed for the
// session's whole life (an idle session is cheaper by as much).
func (n *Node) serveWebSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, req *request, target Container) {
	conn := n.acceptWebSocket(w, r, wsVersions, channel.RemoteCommand)
	if conn == nil {
		return
	}
	if protocol.DropsEarlyMessages(r.UserAgent()) {
		protocol.HoldEarlyMessages(conn.Context())
	}
	s := &session{n: n, req: req, target: target, Session: conn.ServerSession(req.want())}
	go func() {
		defer n.untrack(conn)
		s.run(ctx)
	}()
}

// serveSPDY runs one exec or attach over SPDY/3.1 (PROTOCOL.md 4): it waits
// for exactly the streams the request implies, then runs the session.
func (n *Node) serveSPDY(ctx context.Context, w http.ResponseWriter, r *http.Request, req *request, target Container) {
	conn := n.upgradeSPDY(w, r, protocol.Names(protocol.SPDYVersions))
	if conn == nil {
		return
	}
	defer n.untrack(conn)
	accept := func() (*stream.Session, error) {
		ss, err := conn.AcceptSession(ctx, req.want(), n.opts.StreamCreationTimeout)
		if err != nil {
			n.log.Info("spdy stream setup failed", "path", r.URL.Path, "err", err)
			_ = conn.Abort(err.Error())
		}
		return ss, err
	}
	if req.verb != "exec" || req.tty {
		// A tty's first size comes on the resize stream, and an attach
		// starts nothing: both wait for the whole set.
		ss, err := accept()
		if err != nil {
			return
		}
		s := &session{n: n, req: req, target: target, Session: ss}
		s.run(ctx)
		return
	}
	// The process starts now, while the client opens the streams (see
	// lateStreams); run returns only after the setup ended.
	late := newLateStreams()
	go func() { late.set(accept()) }()
	s := &session{n: n, req: req, target: target, Session: &stream.Session{Conn: conn}, late: late}
	s.run(ctx)
}
