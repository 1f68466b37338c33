package node

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// track registers an upgraded connection so Shutdown can end it; the caller
// untracks it when its session is over. When the node is shutting down it
// aborts c instead and reports false.
func (n *Node) track(c stream.Conn) bool {
	if !n.conns.Add(c) {
		_ = c.Abort("server shutting down")
		return false
	}
	return true
}

func (n *Node) untrack(c stream.Conn) { n.conns.Remove(c) }

// StatusGrace bounds how long Shutdown lets exec and attach sessions it
// ended write their failure status and close before it aborts them.
const StatusGrace = 2 * time.Second

// ErrShuttingDown is the failure status of a session that Shutdown ended.
var ErrShuttingDown = errors.New("the server is shutting down: the session was ended before its command finished")

// Shutdown refuses new sessions, lets running ones finish until ctx is done,
// then ends exec and attach sessions with a failure status (their output
// so far delivered first), aborts what is left after StatusGrace, and
// waits for their handlers to return. Hijacked connections are invisible
// to http.Server.Shutdown, hence this.
func (n *Node) Shutdown(ctx context.Context) error {
	if n.conns.Drain(ctx) {
		return nil
	}
	n.stop()
	grace, cancel := context.WithTimeout(context.Background(), StatusGrace)
	defer cancel()
	if !n.conns.WaitFor(grace) {
		n.conns.End(func(c stream.Conn) { _ = c.Abort("server shutting down") })
	}
	n.conns.Wait()
	return ctx.Err()
}

// acceptWebSocket upgrades r with the node's options and tracks the
// connection; nil when the upgrade was refused (the answer is written) or the
// node is shutting down. The caller untracks a connection it got.
func (n *Node) acceptWebSocket(w http.ResponseWriter, r *http.Request, versions []protocol.Version, channels int) *websocket.Conn {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Versions:         versions,
		Channels:         channels,
		IdleTimeout:      n.opts.IdleTimeout,
		KeepAliveTimeout: n.opts.KeepAliveTimeout,
		Logger:           n.log,
	})
	if err != nil {
		n.log.Info("websocket upgrade failed", "path", r.URL.Path, "err", err)
		return nil
	}
	if !n.track(conn) {
		return nil
	}
	return conn
}

// upgradeSPDY is acceptWebSocket for SPDY/3.1.
func (n *Node) upgradeSPDY(w http.ResponseWriter, r *http.Request, protocols []string) *spdy.Conn {
	conn, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{
		Protocols:        protocols,
		IdleTimeout:      n.opts.IdleTimeout,
		KeepAliveTimeout: n.opts.KeepAliveTimeout,
		Logger:           n.log,
	})
	if err != nil {
		n.log.Info("spdy upgrade failed", "path", r.URL.Path, "err", err)
		return nil
	}
	if !n.track(conn) {
		return nil
	}
	return conn
}
