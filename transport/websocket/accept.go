package websocket

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
)

// ErrNoProtocol is returned by Accept when no subprotocol the client offered
// is supported; the client got the raw empty 403 of the real servers.
var ErrNoProtocol = errors.New("no offered subprotocol is supported")

// ErrBadMethod is returned by Accept for a method other than GET (405).
var ErrBadMethod = errors.New("websocket handshake needs GET")

// Buffer sizes. serverMsgMax bounds the messages the server sends: large
// enough that per-message costs vanish on fast links (see BenchmarkReadFrom),
// small enough for every known client (client-go has no limit, x/net 32 MiB).
// The pools are process-wide caches: buffers exist only while a write runs.
const (
	serverMsgMax = 64 << 10
	clientMsgMax = 32<<10 + 1 // client-go's largest message
	// defaultReadLimit is x/net's, which the kubelet and the API server
	// use: clients (the official Python and JavaScript ones) send each
	// stdin write as one message. Binary messages stream through without
	// being buffered; a base64 message is read whole, hence its own bound.
	defaultReadLimit = 32 << 20
	base64ReadLimit  = 4 << 20
	defaultIdle      = 4 * time.Hour
	defaultLinger    = 60 * time.Second
	defaultKeepAlive = 20 * time.Second
	maxChannels      = channel.CloseSignal
)

var (
	serverPool = pump.NewPool(serverMsgMax)
	clientPool = pump.NewPool(clientMsgMax)
)

// AcceptOptions configure Accept. A nil or zero value is safe: every
// remote-command version but the unnamed one, five channels.
type AcceptOptions struct {
	// Versions the server supports; the client's preference picks among
	// them. Include protocol.UnnamedWebSocket to accept a client offering
	// no subprotocol. Default: protocol.WebSocketVersions.
	Versions []protocol.Version
	// Channels is the number of channels (default channel.RemoteCommand,
	// at most 255: byte 255 is the v5 close signal).
	Channels int
	// ReadLimit bounds one inbound message (default 32 MiB as x/net, 4 MiB
	// for the base64 protocols, which are read whole; -1 none). A
	// larger message ends the connection with close 1009.
	ReadLimit int64
	// IdleTimeout ends a connection without data either way for this long
	// (default 4h, as the kubelet; pings do not count; -1 never).
	IdleTimeout time.Duration
	// LingerTimeout bounds how long Close waits for the peer to read what
	// was sent and close its side (default 60s).
	LingerTimeout time.Duration
	// KeepAliveTimeout ends the connection (ErrPeerUnresponsive) when a
	// client that has sent pings (client-go does, every 5 s) sends nothing
	// for this long while the read loop waits for it: frozen, or gone
	// without a FIN. Default 20 s; negative: never.
	KeepAliveTimeout time.Duration
	// KeepAlive, when positive, pings the client this often, for the
	// proxies and load balancers in between, which cut a connection quiet
	// for longer than their idle timeout (the kubelet sends none: default
	// 0, none). The pings wait for no pong and are not activity for
	// IdleTimeout. OnKeepAlive, when set, is told of each one sent.
	KeepAlive   time.Duration
	OnKeepAlive func()
	// OriginPatterns allows cross-origin browser requests from these hosts
	// (path.Match patterns). Requests without Origin (kubectl, client-go)
	// and same-origin requests are always allowed.
	OriginPatterns []string
	// InsecureSkipOriginCheck accepts any Origin, exposing sessions to
	// cross-site WebSocket hijacking from any web page a user visits.
	InsecureSkipOriginCheck bool
	Logger                  *slog.Logger

	pool *pump.Pool // tests
}

func (o *AcceptOptions) withDefaults() AcceptOptions {
	var d AcceptOptions
	if o != nil {
		d = *o
	}
	if d.Versions == nil {
		d.Versions = protocol.WebSocketVersions
	}
	if d.Channels <= 0 {
		d.Channels = channel.RemoteCommand
	}
	d.Channels = min(d.Channels, maxChannels)
	if d.ReadLimit == 0 {
		d.ReadLimit = defaultReadLimit
	}
	if d.IdleTimeout == 0 {
		d.IdleTimeout = defaultIdle
	}
	if d.LingerTimeout <= 0 {
		d.LingerTimeout = defaultLinger
	}
	if d.KeepAliveTimeout == 0 {
		d.KeepAliveTimeout = defaultKeepAlive
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.pool == nil {
		d.pool = serverPool
	}
	return d
}

// Accept upgrades r to a WebSocket channel connection. Negotiation is the
// Kubernetes one (PROTOCOL.md 3.2): only the first Sec-WebSocket-Protocol
// line counts, its comma-separated names in the client's order of
// preference, and the first supported one wins. With no match the client
// gets a raw "HTTP/1.1 403 Forbidden" without headers or body and the
// connection is closed, like the x/net servers, and Accept returns
// ErrNoProtocol. A method other than GET gets 405 "bad method"; malformed
// handshakes and refused origins get coder/websocket's 4xx answers.
//
// On success the connection is live (its read loop runs) and the caller owns
// it: it must end it with Close or Abort.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	o := opts.withDefaults()
	if r.Method != http.MethodGet {
		w.Header().Set("Connection", "close") // like x/net: answer, then close
		http.Error(w, "bad method", http.StatusMethodNotAllowed)
		return nil, fmt.Errorf("accept websocket: method %s: %w", r.Method, ErrBadMethod)
	}
	offered := firstLineProtocols(r.Header)
	v, ok := negotiate(offered, o.Versions)
	if !ok && isHandshake(r) {
		rejectRaw403(w)
		return nil, fmt.Errorf("accept websocket: client offered %q: %w", offered, ErrNoProtocol)
	}
	c := newConn(v, o.Channels, false, o.pool, o.pool.Size(), o.Logger)
	c.linger = o.LingerTimeout
	copts := &ws.AcceptOptions{
		InsecureSkipVerify: o.InsecureSkipOriginCheck,
		OriginPatterns:     o.OriginPatterns,
		CompressionMode:    ws.CompressionDisabled,
		OnPingReceived:     c.onPing,
	}
	if v.Name != protocol.Unnamed {
		copts.Subprotocols = []string{v.Name}
	}
	hw := &hijackWriter{ResponseWriter: w, wrap: func(nc net.Conn) *lingerConn {
		c.nc = newLingerConn(nc, o.LingerTimeout, &c.wg)
		return c.nc
	}}
	wc, err := ws.Accept(hw, r, copts)
	if err != nil {
		return nil, fmt.Errorf("accept websocket: %w", err)
	}
	c.ws = wc
	limit := o.ReadLimit
	if v.Base64 && (opts == nil || opts.ReadLimit == 0) {
		limit = base64ReadLimit
	}
	wc.SetReadLimit(limit)
	if o.IdleTimeout > 0 {
		c.idle = idle.New(o.IdleTimeout, c.expireIdle)
		c.idle.Start()
	}
	c.start()
	if o.KeepAliveTimeout > 0 {
		c.startKeepAlive(o.KeepAliveTimeout)
	}
	c.nc.keepAlive(idle.KeepAlive(o.KeepAlive, c.keepAlivePing, o.OnKeepAlive))
	return c, nil
}

// firstLineProtocols reads the first Sec-WebSocket-Protocol line only, as
// every Kubernetes WebSocket server does.
func firstLineProtocols(h http.Header) []string {
	lines := h.Values(protocol.HeaderWebSocketProtocol)
	if len(lines) == 0 {
		return nil
	}
	return protocol.SplitHeader(lines[:1])
}

// negotiate picks the client's first offer the server supports; a client
// offering nothing gets the unnamed version if the server has it.
func negotiate(offered []string, versions []protocol.Version) (protocol.Version, bool) {
	if len(offered) == 0 {
		return protocol.Lookup(versions, protocol.Unnamed)
	}
	var names []string
	for _, v := range versions {
		if v.Name != protocol.Unnamed {
			names = append(names, v.Name)
		}
	}
	chosen, ok := protocol.Negotiate(offered, names)
	if !ok {
		return protocol.Version{}, false
	}
	return protocol.Lookup(versions, chosen)
}

// isHandshake reports a well-formed upgrade request; malformed ones are
// answered by coder/websocket's checks, which come first on the x/net
// servers too (400 before 403).
func isHandshake(r *http.Request) bool {
	return protocol.IsWebSocketUpgrade(r) &&
		r.Header.Get("Sec-WebSocket-Version") == "13" &&
		r.Header.Get("Sec-WebSocket-Key") != ""
}

// rejectRaw403 answers exactly like the x/net servers: status line, empty
// line, close (PROTOCOL.md 2.4).
func rejectRaw403(w http.ResponseWriter) {
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		w.WriteHeader(http.StatusForbidden) // HTTP/2 has nothing to hijack
		return
	}
	defer nc.Close()
	_, _ = brw.WriteString("HTTP/1.1 403 Forbidden\r\n\r\n")
	_ = brw.Flush()
}
