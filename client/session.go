package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

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
	if wire != WireSPDY && o.Resume != nil {
		d, err := c.dialWebSocketResp(ctx, rawURL, resumeDialOptions(nil))
		if err == nil {
			c.log.InfoContext(ctx, "session wire", "wire", string(WireWebSocket), "protocol", d.conn.Protocol())
			if id := d.resp.Header.Get(protocol.HeaderSession); d.conn.Protocol() == protocol.ResumeV5 && id != "" {
				return c.runResumable(ctx, rawURL, d.conn, id, o)
			}
			return c.run(ctx, d.conn.ClientSession(o.want()), o)
		}
		if wire == WireWebSocket || !isUpgradeFailure(err) {
			return err
		}
		c.log.InfoContext(ctx, "websocket upgrade failed, falling back to spdy", "err", err)
	} else if wire != WireSPDY {
		w, err := c.connectWebSocket(ctx, rawURL, o)
		if err == nil {
			return c.run(ctx, w, o)
		}
		if wire == WireWebSocket || !isUpgradeFailure(err) {
			return err
		}
		c.log.InfoContext(ctx, "websocket upgrade failed, falling back to spdy", "err", err)
	}
	w, err := c.connectSPDY(ctx, rawURL, o)
	if err != nil {
		return err
	}
	return c.run(ctx, w, o)
}

// connectWebSocket dials v5.channel.k8s.io; its channels exist on both
// sides from the start (PROTOCOL.md 3.3).
func (c *Client) connectWebSocket(ctx context.Context, rawURL string, o *StreamOptions) (*stream.Session, error) {
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	conn, err := c.dialWebSocket(ctx, rawURL, &websocket.DialOptions{Versions: []protocol.Version{v5}})
	if err != nil {
		return nil, err
	}
	c.log.InfoContext(ctx, "session wire", "wire", string(WireWebSocket), "protocol", conn.Protocol())
	return conn.ClientSession(o.want()), nil
}

// connectSPDY upgrades and opens the session's streams.
func (c *Client) connectSPDY(ctx context.Context, rawURL string, o *StreamOptions) (*stream.Session, error) {
	conn, err := c.dialSPDY(ctx, rawURL, protocol.SPDYClientOffer)
	if err != nil {
		return nil, err
	}
	c.log.InfoContext(ctx, "session wire", "wire", string(WireSPDY), "protocol", conn.Protocol())
	return conn.OpenSession(ctx, o.want())
}

// want is the session's streams: the ones the options give an end to.
func (o *StreamOptions) want() protocol.Want {
	return protocol.Want{Stdin: o.Stdin != nil, Stdout: o.Stdout != nil, Stderr: o.Stderr != nil, TTY: o.TTY}
}
