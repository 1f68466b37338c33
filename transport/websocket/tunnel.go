package websocket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/protocol"
)

// TunnelOptions configure AcceptTunnel. The zero value is safe but for
// Protocols, which is required.
type TunnelOptions struct {
	// Protocols are the tunnelled protocols the server speaks, without the
	// "SPDY/3.1+" prefix (port-forward: portforward.Name).
	Protocols []string
	// ReadLimit bounds one inbound message (default 32 MiB, as x/net).
	ReadLimit int64
	// LingerTimeout bounds the lingering close (default 60s).
	LingerTimeout time.Duration
	// OriginPatterns and InsecureSkipOriginCheck as in AcceptOptions.
	OriginPatterns          []string
	InsecureSkipOriginCheck bool
	Logger                  *slog.Logger
	// KeepAlive, when positive, pings the client this often between
	// messages, for the proxies and load balancers in between, as
	// AcceptOptions.KeepAlive does; OnKeepAlive, when set, is told of each
	// ping sent. The client's pongs are not tunnel bytes.
	KeepAlive   time.Duration
	OnKeepAlive func()
}

// Tunnel is a WebSocket used as a byte pipe (PROTOCOL.md 7): the payloads of
// binary messages, concatenated, are the stream; each Write is one binary
// message; a text message is a protocol error. Close ends the WebSocket with
// 1000 and a lingering close, and returns once the socket is closed.
type Tunnel struct {
	net.Conn
	lc       *lingerConn       // the socket under Conn, for Write (server)
	client   *clientTunnelConn // Conn, on a dialled tunnel
	protocol string
	wg       sync.WaitGroup // the lingering close
}

// Protocol is the tunnelled protocol, prefix stripped ("portforward.k8s.io").
func (t *Tunnel) Protocol() string { return t.protocol }

// Write sends p as one binary message, header and payload in one write
// on the server (lingerConn.writeFrame): coder/websocket's Write would
// take two syscalls, the first of a few bytes. A client's frames are
// masked: coder/websocket writes them.
func (t *Tunnel) Write(p []byte) (int, error) {
	if t.lc == nil {
		return t.Conn.Write(p)
	}
	var hb [maxHeaderLen + 1]byte
	if err := t.lc.writeFrame(appendHeader(hb[:0], 0x2, len(p)), p, nil); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteMessage sends a then b as one binary message, as Write(a+b) would
// without joining them: the SPDY connection inside a port-forward tunnel
// writes a DATA frame's header and its payload this way. Two writes would
// be two messages, each a frame header to write and, at the peer, a message
// to read (a frame of 32 KiB became 8 bytes and 32 KiB).
func (t *Tunnel) WriteMessage(a, b []byte) (int, error) {
	if t.lc == nil { // dialled: the client's masked frames
		return t.client.writeMessage(a, b)
	}
	var hb [maxHeaderLen + 1]byte
	if err := t.lc.writeFrame(appendHeader(hb[:0], 0x2, len(a)+len(b)), a, b); err != nil {
		return 0, err
	}
	return len(a) + len(b), nil
}

// SetDeadline sets the read and write deadlines: the write deadline on the
// socket too, which Write writes to directly.
func (t *Tunnel) SetDeadline(d time.Time) error {
	if t.lc != nil {
		_ = t.lc.Conn.SetWriteDeadline(d)
	}
	return t.Conn.SetDeadline(d)
}

// SetWriteDeadline bounds Write (on the socket) and coder/websocket's own
// writes.
func (t *Tunnel) SetWriteDeadline(d time.Time) error {
	if t.lc != nil {
		_ = t.lc.Conn.SetWriteDeadline(d)
	}
	return t.Conn.SetWriteDeadline(d)
}

// Close ends the tunnel gracefully and waits for the socket to be closed.
func (t *Tunnel) Close() error {
	err := t.Conn.Close()
	t.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// errNoTunnelProtocol: the client offered no "SPDY/3.1+" name.
var errNoTunnelProtocol = errors.New("no tunneling spdy protocols provided")

// AcceptTunnel upgrades r to a tunnel, negotiating like the API server's
// tunnelling handler in front of a SPDY backend: the offered names that carry
// the prefix are stripped of it (none: 400 "unable to upgrade: no tunneling
// spdy protocols provided"), the first the server speaks wins (none: 403 with
// the SPDY negotiation text and X-Accepted-Stream-Protocol-Versions headers,
// as the backend's refusal is relayed), and the 101 names the prefixed choice.
func AcceptTunnel(w http.ResponseWriter, r *http.Request, opts *TunnelOptions) (*Tunnel, error) {
	o := TunnelOptions{}
	if opts != nil {
		o = *opts
	}
	if o.ReadLimit == 0 {
		o.ReadLimit = 32 << 20
	}
	if o.LingerTimeout <= 0 {
		o.LingerTimeout = defaultLinger
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Connection", "close")
		http.Error(w, "bad method", http.StatusMethodNotAllowed)
		return nil, fmt.Errorf("accept tunnel: method %s: %w", r.Method, ErrBadMethod)
	}
	var inner []string
	for _, p := range firstLineProtocols(r.Header) {
		if strings.HasPrefix(p, protocol.TunnelPrefix) {
			inner = append(inner, strings.TrimPrefix(p, protocol.TunnelPrefix))
		}
	}
	if len(inner) == 0 {
		http.Error(w, "unable to upgrade: "+errNoTunnelProtocol.Error(), http.StatusBadRequest)
		return nil, fmt.Errorf("accept tunnel: %w", errNoTunnelProtocol)
	}
	chosen, ok := protocol.Negotiate(inner, o.Protocols)
	if !ok {
		for _, p := range o.Protocols {
			w.Header().Add(protocol.HeaderAcceptedProtocol, p)
		}
		msg := fmt.Sprintf("unable to upgrade: unable to negotiate protocol: client supports %v, server accepts %v", inner, o.Protocols)
		http.Error(w, msg, http.StatusForbidden)
		return nil, fmt.Errorf("accept tunnel: %s: %w", msg, ErrNoProtocol)
	}
	t := &Tunnel{protocol: chosen}
	hw := &hijackWriter{ResponseWriter: w, wrap: func(nc net.Conn) *lingerConn {
		t.lc = newLingerConn(nc, o.LingerTimeout, &t.wg)
		return t.lc
	}}
	wc, err := ws.Accept(hw, r, &ws.AcceptOptions{
		Subprotocols:       []string{protocol.TunnelPrefix + chosen},
		InsecureSkipVerify: o.InsecureSkipOriginCheck,
		OriginPatterns:     o.OriginPatterns,
		CompressionMode:    ws.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("accept tunnel: %w", err)
	}
	// NetConn keeps a reader running for us (pings and close are handled
	// inside its reads); it resets the read limit, so set ours after it.
	t.Conn = ws.NetConn(context.Background(), wc, ws.MessageBinary)
	wc.SetReadLimit(o.ReadLimit)
	t.lc.keepAlive(idle.KeepAlive(o.KeepAlive, t.lc.tryPing, o.OnKeepAlive))
	return t, nil
}
