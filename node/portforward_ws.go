package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// servePortForwardWebSocket serves the two WebSocket port-forward wires: the
// SPDY tunnel when the client offers a "SPDY/3.1+...k8s.io" name (PROTOCOL.md
// 7, what kubectl 1.31+ uses), else the legacy channel protocol with the
// ports fixed by the query (PROTOCOL.md 6).
func (n *Node) servePortForwardWebSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, req *request, pod PodRef) *status.HTTPError {
	offered := protocol.SplitHeader([]string{r.Header.Get(protocol.HeaderWebSocketProtocol)})
	for _, p := range offered {
		if strings.HasPrefix(p, protocol.TunnelPrefix) && strings.HasSuffix(p, ".k8s.io") {
			return n.servePortForwardTunnel(ctx, w, r, pod)
		}
	}
	if len(req.ports) == 0 {
		return badRequest("query parameter \"ports\" is required")
	}
	n.servePortForwardChannels(ctx, w, r, req.ports, pod)
	return nil
}

// legacyPortForwardVersions are the names the CRI server accepts for the
// channel port-forward: none, v4 and v4 base64 (not the plain v1 names).
var legacyPortForwardVersions = []protocol.Version{
	protocol.UnnamedWebSocket,
	{Name: protocol.V4, StatusJSON: true},
	{Name: protocol.V4Base64, StatusJSON: true, Base64: true},
}

// servePortForwardChannels runs the legacy protocol: for the i-th port,
// channel 2i carries data both ways and 2i+1 errors; each starts with the
// port, two bytes little-endian. One TCP connection per port; the socket
// closes with 1000 once every port's forward has finished.
func (n *Node) servePortForwardChannels(ctx context.Context, w http.ResponseWriter, r *http.Request, ports []uint16, pod PodRef) {
	conn := n.acceptWebSocket(w, r, legacyPortForwardVersions, 2*len(ports))
	if conn == nil {
		return
	}
	defer n.untrack(conn)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, port := range ports {
		data, errc := portforward.Channels(i)
		ds, es := conn.Channel(int(data)), conn.Channel(int(errc))
		prefix := portforward.AppendPortPrefix(nil, port)
		_, err1 := ds.Write(prefix)
		_, err2 := es.Write(prefix)
		if err := errors.Join(err1, err2); err != nil {
			_ = conn.Abort("write port prefix")
			cancel()
			break
		}
		wg.Add(1)
		go n.forwardChannel(ctx, pod, port, ds, es, &wg)
	}
	wg.Wait()
	if err := conn.Close(); err != nil {
		n.log.Debug("close port-forward connection", "err", err)
	}
}

// forwardChannel runs one port of the legacy protocol.
func (n *Node) forwardChannel(ctx context.Context, pod PodRef, port uint16, data, errs stream.Stream, wg *sync.WaitGroup) {
	defer wg.Done()
	err := n.rt.PortForward(ctx, pod, port, &oneWayEnd{Stream: data})
	if err != nil && ctx.Err() == nil {
		msg := fmt.Sprintf("error forwarding port %d to pod %s, uid %v: %v", port, pod.Name, pod.UID, err)
		_, _ = errs.Write([]byte(msg))
	}
}

// oneWayEnd adapts a legacy channel, which has no half-close from the
// client, to the runtime's copy: once the pod's side has finished
// (CloseWrite), the client's direction is abandoned and reads as EOF, so the
// forward ends as the CRI server's does when the pod closes.
type oneWayEnd struct {
	stream.Stream
	done atomic.Bool
}

func (e *oneWayEnd) CloseWrite() error {
	e.done.Store(true)
	_ = e.Stream.CloseWrite()
	if c, ok := e.Stream.(interface{ CloseRead() error }); ok {
		return c.CloseRead()
	}
	return nil
}

func (e *oneWayEnd) Read(p []byte) (int, error) {
	n, err := e.Stream.Read(p)
	if err != nil && e.done.Load() {
		return n, io.EOF
	}
	return n, err
}

func (e *oneWayEnd) Close() error { return e.Stream.Reset() }

// servePortForwardTunnel serves SPDY port-forward inside a WebSocket.
// The WebSocket is a byte pipe for an ordinary SPDY port-forward session.
func (n *Node) servePortForwardTunnel(ctx context.Context, w http.ResponseWriter, r *http.Request, pod PodRef) *status.HTTPError {
	t, err := websocket.AcceptTunnel(w, r, &websocket.TunnelOptions{
		Protocols: n.portForwardProtocols(),
		Logger:    n.log,
	})
	if err != nil {
		n.log.Info("tunnel upgrade failed", "path", r.URL.Path, "err", err)
		return nil // AcceptTunnel answered
	}
	// No SPDY-level linger: a tunnel cannot half-close, so it would wait for
	// the client until the deadline; the WebSocket under it lingers instead.
	conn, err := spdy.NewServer(t, t.Protocol(), &spdy.UpgradeOptions{IdleTimeout: n.opts.IdleTimeout, Linger: -1, Logger: n.log})
	if err != nil {
		n.log.Info("spdy over tunnel failed", "path", r.URL.Path, "err", err)
		return nil
	}
	if !n.track(conn) {
		return nil
	}
	defer n.untrack(conn)
	n.servePortForwardConn(ctx, conn, pod)
	return nil
}
