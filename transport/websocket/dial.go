package websocket

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
)

// maxErrorBody caps the body of a refused upgrade kept in its
// stream.UpgradeError.
const maxErrorBody = 64 << 10

// DialOptions configure Dial. A nil or zero value offers v5.channel.k8s.io
// alone, like client-go.
type DialOptions struct {
	// Versions to offer, most preferred first, in one header line. A list
	// holding only protocol.UnnamedWebSocket offers nothing.
	Versions []protocol.Version
	// Channels is the number of channels (default channel.RemoteCommand).
	Channels int
	// Header is sent with the upgrade request (Authorization...).
	Header http.Header
	// HTTPClient makes the request (default http.DefaultClient).
	HTTPClient *http.Client
	// ReadLimit bounds one inbound message (default 32 MiB like x/net; -1 none).
	ReadLimit int64
	// PingInterval between pings (default 5s like client-go; -1 none); the
	// connection fails when a pong takes longer than PongWait (default 25s,
	// so a frozen server is noticed within 30 s; client-go waits 61 s).
	PingInterval time.Duration
	PongWait     time.Duration
	Logger       *slog.Logger
}

// Dial connects to a channel server at url (ws, wss, http or https). It
// returns the 101 response; on a refusal, a *stream.UpgradeError with the status and
// body; on a subprotocol not offered, one with Chosen set. The caller owns the
// connection and must end it with Close or Abort.
func Dial(ctx context.Context, url string, opts *DialOptions) (*Conn, *http.Response, error) {
	o := DialOptions{}
	if opts != nil {
		o = *opts
	}
	if len(o.Versions) == 0 {
		o.Versions = protocol.WebSocketVersions[:1]
	}
	if o.Channels <= 0 {
		o.Channels = channel.RemoteCommand
	}
	o.Channels = min(o.Channels, maxChannels)
	if o.ReadLimit == 0 {
		o.ReadLimit = 32 << 20
	}
	if o.PingInterval == 0 {
		o.PingInterval = 5 * time.Second
	}
	if o.PongWait <= 0 {
		o.PongWait = 25 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var offered []string
	for _, v := range o.Versions {
		if v.Name != protocol.Unnamed {
			offered = append(offered, v.Name)
		}
	}
	wc, raw, resp, err := handshake(ctx, "dial websocket", url, o.HTTPClient, o.Header, offered, 0)
	if err != nil {
		return nil, resp, err
	}
	chosen := wc.Subprotocol()
	v, ok := protocol.Lookup(o.Versions, chosen)
	if !ok || (len(offered) > 0 && !slices.Contains(offered, chosen)) {
		_ = wc.CloseNow()
		return nil, resp, stream.NewProtocolMismatch(protocol.WebSocket, offered, chosen)
	}
	c := newConn(v, o.Channels, true, clientPool, clientMsgMax, o.Logger)
	c.linger = defaultLinger
	c.ws = wc
	c.raw = raw
	if raw != nil {
		raw.onPing = c.onPing
	}
	wc.SetReadLimit(o.ReadLimit)
	c.start()
	if o.PingInterval > 0 {
		c.wg.Add(1)
		go c.pingLoop(o.PingInterval, o.PongWait)
	}
	return c, resp, nil
}

// captureTransport keeps the status and the first 64 KiB of the body of a
// refused upgrade; coder/websocket keeps only 1 KiB.
// It also keeps the upgraded connection (the 101's body) so that a close
// handshake the peer never answers can be cut (see boundedClose).
type captureTransport struct {
	base     http.RoundTripper
	readBuf  int // > 0: the upgraded connection's reads go through a buffer this large
	status   int
	body     []byte
	upgraded *clientWire
}

func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// net/http's 101 body is the connection, readable and writable;
		// coder/websocket requires as much.
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			t.upgraded = &clientWire{ReadWriteCloser: rwc, pongs: make(chan struct{}, 1)}
			if t.readBuf > 0 {
				t.upgraded.r = bufio.NewReaderSize(rwc, t.readBuf)
			}
			resp.Body = t.upgraded
		}
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	t.status, t.body = resp.StatusCode, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// handshake dials url offering the names in one Sec-WebSocket-Protocol line
// (servers read only the first, PROTOCOL.md 3.2) and classifies a failure as
// client-go does: a *stream.UpgradeError for a non-101 answer or for a
// 101 naming a subprotocol that was not offered; op names the dial in any
// other error. Dial and DialTunnel share it. readBuf, when positive, is the
// size of a read buffer under coder/websocket's own (see clientWire.r).
func handshake(ctx context.Context, op, url string, hc *http.Client, header http.Header, offered []string, readBuf int) (*ws.Conn, *clientWire, *http.Response, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	capture := &captureTransport{base: hc.Transport, readBuf: readBuf}
	if capture.base == nil {
		capture.base = http.DefaultTransport
	}
	client := *hc
	client.Transport = capture
	header = header.Clone()
	if header == nil {
		header = http.Header{}
	}
	wc, resp, err := ws.Dial(ctx, url, &ws.DialOptions{
		HTTPClient:      &client,
		HTTPHeader:      header,
		Subprotocols:    offered,
		CompressionMode: ws.CompressionDisabled,
		// Set by the round trip, before any frame is read.
		OnPongReceived: func(ctx context.Context, p []byte) {
			if w := capture.upgraded; w != nil {
				w.onPong(ctx, p)
			}
		},
		// A Conn answers pings itself, after the message in flight:
		// coder/websocket's pong would wait for it at most 5 s, then end
		// the connection.
		OnPingReceived: func(ctx context.Context, p []byte) bool {
			if w := capture.upgraded; w != nil && w.onPing != nil {
				return w.onPing(ctx, p)
			}
			return true
		},
	})
	if err == nil {
		return wc, capture.upgraded, resp, nil
	}
	switch {
	case capture.status != 0:
		return nil, nil, resp, stream.NewUpgradeRefusal(protocol.WebSocket, capture.status, capture.body)
	case resp != nil && resp.StatusCode == http.StatusSwitchingProtocols &&
		!slices.Contains(offered, resp.Header.Get(protocol.HeaderWebSocketProtocol)):
		// coder/websocket refused a subprotocol we did not offer.
		return nil, nil, resp, stream.NewProtocolMismatch(protocol.WebSocket, offered, resp.Header.Get(protocol.HeaderWebSocketProtocol))
	}
	return nil, nil, resp, fmt.Errorf("%s %s: %w", op, url, err)
}

// closeHandshakeWait bounds a client's close handshake. coder/websocket
// bounds its own waits with 5 s timeouts, except where it skips the rest of
// a frame the peer stopped sending midway: a frozen peer would hold Close
// forever.
var closeHandshakeWait = 12 * time.Second

// boundedClose runs the close handshake on wc and closes the raw
// connection under it if the peer has not finished within wait.
func boundedClose(wc *ws.Conn, raw *clientWire, wait time.Duration) error {
	if raw != nil {
		t := time.AfterFunc(wait, func() { _ = raw.Close() })
		defer t.Stop()
	}
	return wc.Close(ws.StatusNormalClosure, "")
}
