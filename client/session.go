package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

// wiring is a connected session, whatever the wire: the streams it opened
// (nil when not requested) and what its version carries.
type wiring struct {
	conn          stream.Conn
	version       protocol.Version
	wire          Wire
	stdin, resize stream.Stream
	stdout        stream.Stream
	stderr        stream.Stream
	errs          stream.Stream
}

// session connects to rawURL on the chosen wire and runs the session: WebSocket
// v5 first, SPDY (v5..v1, one line each, like client-go) only when the
// WebSocket upgrade failed (isUpgradeFailure).
func (c *Client) session(ctx context.Context, rawURL string, o *StreamOptions) error {
	if u, err := url.Parse(rawURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("session URL %q: want an absolute http or https URL", rawURL)
	}
	wire := o.Wire
	if wire == WireAuto {
		wire = c.cfg.Wire
	}
	if wire != WireSPDY {
		w, err := c.connectWebSocket(ctx, rawURL, o)
		if err == nil {
			return c.run(ctx, w, o)
		}
		if wire == WireWebSocket || !isUpgradeFailure(err) {
			return upgradeError(err)
		}
		c.log.InfoContext(ctx, "websocket upgrade failed, falling back to spdy", "err", err)
	}
	w, err := c.connectSPDY(ctx, rawURL, o)
	if err != nil {
		return upgradeError(err)
	}
	return c.run(ctx, w, o)
}

// connectWebSocket dials v5.channel.k8s.io. Channels exist on both sides
// from the start (PROTOCOL.md 3.3); the ones we never read are closed for
// reading so stray messages cannot stall the read loop.
func (c *Client) connectWebSocket(ctx context.Context, rawURL string, o *StreamOptions) (*wiring, error) {
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	conn, err := c.dialWebSocket(ctx, rawURL, &websocket.DialOptions{Versions: []protocol.Version{v5}})
	if err != nil {
		return nil, err
	}
	c.log.InfoContext(ctx, "session wire", "wire", string(WireWebSocket), "protocol", conn.Protocol())
	w := &wiring{conn: conn, version: conn.Version(), wire: WireWebSocket}
	ch := func(i int) stream.Stream { return conn.Channel(i) }
	_ = conn.Channel(0).CloseRead()
	_ = conn.Channel(4).CloseRead()
	if o.Stdin != nil {
		w.stdin = ch(0)
	}
	if o.Stdout != nil {
		w.stdout = ch(1)
	} else {
		_ = conn.Channel(1).CloseRead()
	}
	if o.Stderr != nil && !o.TTY {
		w.stderr = ch(2)
	} else {
		_ = conn.Channel(2).CloseRead()
	}
	w.errs = ch(3)
	if o.TTY {
		w.resize = ch(4)
	}
	return w, nil
}

// connectSPDY upgrades and opens exactly the streams the server counts
// (PROTOCOL.md 4.2): error, stdin, stdout, stderr without tty, resize with
// tty from v3, in that order, each after the previous one was answered.
func (c *Client) connectSPDY(ctx context.Context, rawURL string, o *StreamOptions) (*wiring, error) {
	conn, err := c.dialSPDY(ctx, rawURL, protocol.SPDYClientOffer)
	if err != nil {
		return nil, err
	}
	c.log.InfoContext(ctx, "session wire", "wire", string(WireSPDY), "protocol", conn.Protocol())
	v, ok := protocol.Lookup(protocol.SPDYVersions, conn.Protocol())
	if !ok { // v5 over SPDY: client-go treats it as v4
		v, _ = protocol.Lookup(protocol.SPDYVersions, protocol.V4)
		v.Name = conn.Protocol()
	}
	w := &wiring{conn: conn, version: v, wire: WireSPDY}
	open := func(typ string) (stream.Stream, error) {
		s, err := conn.Open(ctx, http.Header{protocol.HeaderStreamType: {typ}})
		if err != nil {
			return nil, &stream.Error{Stream: typ, Err: err}
		}
		return s, nil
	}
	steps := []struct {
		want bool
		typ  string
		dst  *stream.Stream
	}{
		{true, protocol.StreamError, &w.errs},
		{o.Stdin != nil, protocol.StreamStdin, &w.stdin},
		{o.Stdout != nil, protocol.StreamStdout, &w.stdout},
		{o.Stderr != nil && !o.TTY, protocol.StreamStderr, &w.stderr},
		{o.TTY && v.Resize, protocol.StreamResize, &w.resize},
	}
	for _, s := range steps {
		if !s.want {
			continue
		}
		if *s.dst, err = open(s.typ); err != nil {
			_ = conn.Abort("open stream failed")
			return nil, err
		}
	}
	return w, nil
}
