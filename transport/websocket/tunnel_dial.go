package websocket

import (
	"context"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/stream"
)

// TunnelDialOptions configure DialTunnel.
type TunnelDialOptions struct {
	// Protocols to tunnel, without the "SPDY/3.1+" prefix, most preferred
	// first (default portforward.Name).
	Protocols []string
	// Header is sent with the upgrade request.
	Header http.Header
	// HTTPClient makes the request (default http.DefaultClient).
	HTTPClient *http.Client
	// ReadLimit bounds one inbound message (default 32 MiB; -1 none).
	ReadLimit int64
}

// DialTunnel is the client side of AcceptTunnel, as client-go's tunnelling
// dialer: it offers each protocol as "SPDY/3.1+<name>" on one header line and
// returns the WebSocket as a byte pipe (binary payloads concatenated, each
// Write one binary message, no WebSocket pings: the SPDY session inside
// pings). Refusals come back like Dial's: *stream.UpgradeError for a non-101,
// or one with Chosen set for a name that was not offered. The caller owns the tunnel.
func DialTunnel(ctx context.Context, url string, opts *TunnelDialOptions) (*Tunnel, *http.Response, error) {
	o := TunnelDialOptions{}
	if opts != nil {
		o = *opts
	}
	if len(o.Protocols) == 0 {
		o.Protocols = []string{portforward.Name}
	}
	if o.ReadLimit == 0 {
		o.ReadLimit = 32 << 20
	}
	offered := make([]string, len(o.Protocols))
	for i, p := range o.Protocols {
		offered[i] = protocol.TunnelPrefix + p
	}
	wc, raw, resp, err := handshake(ctx, "dial tunnel", url, o.HTTPClient, o.Header, offered, tunnelReadBuf)
	if err != nil {
		return nil, resp, err
	}
	chosen := wc.Subprotocol()
	if !slices.Contains(offered, chosen) {
		_ = wc.CloseNow()
		return nil, resp, stream.NewProtocolMismatch(protocol.WebSocket, offered, chosen)
	}
	t := &Tunnel{protocol: strings.TrimPrefix(chosen, protocol.TunnelPrefix)}
	t.client = &clientTunnelConn{Conn: ws.NetConn(context.Background(), wc, ws.MessageBinary), raw: raw}
	t.Conn = t.client
	wc.SetReadLimit(o.ReadLimit)
	return t, resp, nil
}

// tunnelReadBuf is the read buffer under a dialled tunnel's WebSocket, as
// client-go's tunnelling dialer sizes gorilla's (32 KiB + 1 KiB): a SPDY
// DATA frame of 32 KiB arrives in one message, and one read takes it whole.
// Without it, coder/websocket's 4 KiB buffer and the SPDY reader's split
// each frame into three reads from the socket (4 KiB, 4 KiB, then the rest).
const tunnelReadBuf = 32<<10 + 1<<10

// clientTunnelConn bounds the close handshake of a dialed tunnel, as
// Conn.Close does (see boundedClose), and writes through clientWire: each
// Write is one masked frame per client message size in one socket write,
// where coder/websocket's NetConn wrote 4 KiB at a time.
type clientTunnelConn struct {
	net.Conn // coder/websocket's NetConn: reads and the close handshake
	raw      *clientWire

	wmu      sync.Mutex // one Write at a time, whole, as on a TCP conn
	deadline atomic.Pointer[time.Time]
}

func (c *clientTunnelConn) Close() error {
	if c.raw != nil {
		t := time.AfterFunc(closeHandshakeWait, func() { _ = c.raw.Close() })
		defer t.Stop()
	}
	return c.Conn.Close() // cancels pending reads, then the close handshake
}

// Write sends p as binary messages of at most clientMsgMax bytes. A write
// deadline that passes while it waits closes the connection, as the
// NetConn's does.
func (c *clientTunnelConn) Write(p []byte) (int, error) {
	return c.writeMessage(p, nil)
}

// writeMessage is Write of a then b, as one message when they fit in one.
func (c *clientTunnelConn) writeMessage(a, b []byte) (int, error) {
	if c.raw == nil {
		n, err := c.Conn.Write(a)
		if err != nil || len(b) == 0 {
			return n, err
		}
		m, err := c.Conn.Write(b)
		return n + m, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if d := c.deadline.Load(); d != nil && !d.IsZero() {
		left := time.Until(*d)
		if left <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		t := time.AfterFunc(left, func() { _ = c.raw.Close() })
		defer t.Stop()
	}
	n := 0
	if len(b) > 0 && len(a)+len(b) <= frameBufMax {
		if err := c.raw.writeFrame(OpBinary, -1, a, b); err != nil {
			return 0, err
		}
		return len(a) + len(b), nil
	}
	for _, p := range [2][]byte{a, b} {
		for len(p) > 0 {
			k := min(len(p), clientMsgMax)
			if err := c.raw.writeFrame(OpBinary, -1, p[:k], nil); err != nil {
				return n, err
			}
			n, p = n+k, p[k:]
		}
	}
	return n, nil
}

func (c *clientTunnelConn) SetWriteDeadline(t time.Time) error {
	c.deadline.Store(&t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *clientTunnelConn) SetDeadline(t time.Time) error {
	c.deadline.Store(&t)
	return c.Conn.SetDeadline(t)
}
