package node

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
)

// wsVersions are the remote-command versions served over WebSocket,
// including clients that offer no subprotocol at all.
var wsVersions = append(append([]protocol.Version(nil), protocol.WebSocketVersions...), protocol.UnnamedWebSocket)

// serveWebSocket runs one exec or attach over WebSocket (PROTOCOL.md 3).
// All five channels exist; every channel the node will not read (the
// outbound ones, stdin without -i, resize without a tty) is closed for
// reading, so a client writing to it cannot wedge the read loop.
func (n *Node) serveWebSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, req *request, target Container) {
	conn := n.acceptWebSocket(w, r, wsVersions, channel.RemoteCommand)
	if conn == nil {
		return
	}
	if protocol.DropsEarlyMessages(r.UserAgent()) {
		protocol.HoldEarlyMessages(conn.Context())
	}
	defer n.untrack(conn)
	s := &session{n: n, req: req, target: target, version: conn.Version(), conn: conn,
		errs: conn.Channel(channel.Error)}
	for _, ch := range []int{channel.Stdout, channel.Stderr, channel.Error} {
		_ = conn.Channel(ch).CloseRead()
	}
	if req.stdin {
		s.stdin = conn.Channel(channel.Stdin)
	} else {
		_ = conn.Channel(channel.Stdin).CloseRead()
	}
	if req.stdout {
		s.stdout = conn.Channel(channel.Stdout)
	}
	if req.stderr {
		s.stderr = conn.Channel(channel.Stderr)
	}
	if req.tty {
		s.resize = conn.Channel(channel.Resize)
	} else {
		// Resize without a tty has no consumer; the kubelet wedges here
		// (PROTOCOL.md 3.7). We drop it.
		_ = conn.Channel(channel.Resize).CloseRead()
	}
	// The empty "connected" message goes on the lowest writable channel
	// (PROTOCOL.md 3.5), once the runtime has started the process (see
	// Streams.Started).
	s.connected = s.errs
	switch {
	case s.stdout != nil:
		s.connected = s.stdout
	case s.stderr != nil:
		s.connected = s.stderr
	}
	s.run(ctx)
}

// serveSPDY runs one exec or attach over SPDY/3.1 (PROTOCOL.md 4): it waits
// for exactly the streams the request implies, then runs the session.
func (n *Node) serveSPDY(ctx context.Context, w http.ResponseWriter, r *http.Request, req *request, target Container) {
	conn := n.upgradeSPDY(w, r, protocol.Names(protocol.SPDYVersions))
	if conn == nil {
		return
	}
	defer n.untrack(conn)
	version, _ := protocol.Lookup(protocol.SPDYVersions, conn.Protocol())
	s := &session{n: n, req: req, target: target, version: version, conn: conn, halfCloseOutput: true}
	if err := n.acceptSPDYStreams(ctx, conn, s); err != nil {
		n.log.Info("spdy stream setup failed", "path", r.URL.Path, "err", err)
		_ = conn.Abort(err.Error())
		return
	}
	conn.RefuseStreams()
	if version.ResetErrorStream {
		// v1 quirk kept by the kubelet: the error stream is reset and stdin
		// half-closed right after setup (PROTOCOL.md 4.3, 4.4).
		_ = s.errs.Reset()
		s.errs = nil
		if s.stdin != nil {
			_ = s.stdin.CloseWrite()
		}
	}
	s.run(ctx)
}

// errMissingStreams: the client did not open the streams its request implies.
var errMissingStreams = errors.New("timed out waiting for client to create streams")

// acceptSPDYStreams takes streams until it has the set the request implies:
// error, then stdin, stdout, stderr (not with a tty) and resize (tty and
// v3 or later). Unlike the kubelet, which only counts, it checks each type and
// resets duplicates and unknown types.
func (n *Node) acceptSPDYStreams(ctx context.Context, conn *spdy.Conn, s *session) error {
	want := map[string]bool{protocol.StreamError: true}
	want[protocol.StreamStdin] = s.req.stdin
	want[protocol.StreamStdout] = s.req.stdout
	want[protocol.StreamStderr] = s.req.stderr
	want[protocol.StreamResize] = s.req.tty && s.version.Resize
	missing := 0
	for _, ok := range want {
		if ok {
			missing++
		}
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.StreamCreationTimeout)
	defer cancel()
	for missing > 0 {
		st, err := conn.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return errMissingStreams
			}
			return err
		}
		typ := strings.ToLower(st.Headers().Get(protocol.HeaderStreamType))
		slot := s.slot(typ)
		if !want[typ] || slot == nil || *slot != nil {
			n.log.Info("resetting unexpected stream", "streamtype", typ)
			_ = st.Reset()
			continue
		}
		*slot = st
		missing--
	}
	return nil
}

// slot returns where a stream of type typ belongs in the session.
func (s *session) slot(typ string) *stream.Stream {
	switch typ {
	case protocol.StreamError:
		return &s.errs
	case protocol.StreamStdin:
		return &s.stdin
	case protocol.StreamStdout:
		return &s.stdout
	case protocol.StreamStderr:
		return &s.stderr
	case protocol.StreamResize:
		return &s.resize
	}
	return nil
}
