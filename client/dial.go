package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	xproxy "golang.org/x/net/proxy"

	"github.com/porthole/porthole/internal/upgrade"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// proxyConnectTimeout bounds the CONNECT exchange with a proxy.
const proxyConnectTimeout = 30 * time.Second

// dialContext opens a TCP connection to addr (host:port) for a request to
// target, through the configured proxy when there is one: an HTTP CONNECT
// tunnel, over TLS for an https proxy, like client-go's SPDY dialer. Errors
// here are network errors and never trigger a fallback.
func (c *Client) dialContext(ctx context.Context, target *url.URL, addr string) (net.Conn, error) {
	proxy, err := c.cfg.Proxy(&http.Request{Method: http.MethodGet, URL: target, Header: http.Header{}})
	if err != nil {
		return nil, fmt.Errorf("choose proxy: %w", err)
	}
	var d net.Dialer
	if proxy == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	switch proxy.Scheme {
	case "http", "https":
	case "socks5", "socks5h":
		return dialSOCKS(ctx, proxy, addr)
	default:
		return nil, fmt.Errorf("proxy %s: unsupported scheme %q (want http, https or socks5)", proxy.Redacted(), proxy.Scheme)
	}
	nc, err := upgrade.Dial(ctx, proxy, nil, &tls.Config{RootCAs: c.tls.RootCAs})
	if err != nil {
		return nil, fmt.Errorf("dial proxy %s: %w", proxy.Redacted(), err)
	}
	if err := connect(ctx, nc, proxy, addr); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return nc, nil
}

// dialSOCKS reaches addr through a SOCKS5 proxy (user and password from
// its URL), which client-go allows in proxy-url. The host name goes to the
// proxy unresolved, so names only the proxy's side knows work.
func dialSOCKS(ctx context.Context, proxy *url.URL, addr string) (net.Conn, error) {
	d, err := xproxy.FromURL(proxy, &net.Dialer{Timeout: proxyConnectTimeout})
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", proxy.Redacted(), err)
	}
	cd, ok := d.(xproxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("proxy %s: no context dialer", proxy.Redacted())
	}
	nc, err := cd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: connect %s: %w", proxy.Redacted(), addr, err)
	}
	return nc, nil
}

// connect asks the proxy on nc to open a tunnel to addr.
func connect(ctx context.Context, nc net.Conn, proxy *url.URL, addr string) error {
	deadline := time.Now().Add(proxyConnectTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
	if u := proxy.User; u != nil {
		p, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+p)))
	}
	if err := req.Write(nc); err != nil {
		return fmt.Errorf("proxy %s: connect %s: %w", proxy.Redacted(), addr, err)
	}
	// Read the answer byte by byte up to the blank line, so no byte of the
	// tunnelled connection is left in a buffer we would drop.
	resp, err := http.ReadResponse(bufio.NewReaderSize(&byteReader{nc}, 16), req)
	if err != nil {
		return fmt.Errorf("proxy %s: connect %s: %w", proxy.Redacted(), addr, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("proxy %s: connect %s: %s", proxy.Redacted(), addr, resp.Status)
	}
	_ = nc.SetDeadline(time.Time{})
	return nil
}

// byteReader reads one byte at a time: the CONNECT response must not be
// read past its end.
type byteReader struct{ nc net.Conn }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return r.nc.Read(p)
}

// dialer returns a DialContext for requests to rawURL.
func (c *Client) dialer(rawURL string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	target, err := url.Parse(rawURL)
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		if err != nil {
			return nil, err
		}
		return c.dialContext(ctx, target, addr)
	}
}

// httpClient is a one-shot HTTP/1.1 client for rawURL: our dialer (proxies
// as CONNECT tunnels), our TLS, no keep-alive (an upgraded connection is
// never reused) and no redirects (upgrades must not follow them).
func (c *Client) httpClient(rawURL string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         c.dialer(rawURL),
			TLSClientConfig:     c.tls,
			DisableKeepAlives:   true,
			TLSHandshakeTimeout: 30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialWebSocket opens a channel WebSocket to rawURL with credentials and
// heartbeats like client-go (ping every 5 s, pong within 61 s). A refusal
// comes back as an error isUpgradeFailure recognises. The caller owns the
// connection.
func (c *Client) dialWebSocket(ctx context.Context, rawURL string, opts *websocket.DialOptions) (*websocket.Conn, error) {
	d, err := c.dialWebSocketResp(ctx, rawURL, opts)
	return d.conn, err
}

// wsDialed is a WebSocket dial's connection and its 101 response.
type wsDialed struct {
	conn *websocket.Conn
	resp *http.Response
}

// dialWebSocketResp is dialWebSocket that also returns the 101 response.
func (c *Client) dialWebSocketResp(ctx context.Context, rawURL string, opts *websocket.DialOptions) (wsDialed, error) {
	return onceMoreIfUnauthorized(ctx, c, func() (wsDialed, error) { return c.dialWebSocketOnce(ctx, rawURL, opts) })
}

func (c *Client) dialWebSocketOnce(ctx context.Context, rawURL string, opts *websocket.DialOptions) (wsDialed, error) {
	h, err := c.header(ctx)
	if err != nil {
		return wsDialed{}, err
	}
	o := websocket.DialOptions{}
	if opts != nil {
		o = *opts
	}
	for k, vs := range o.Header {
		h[k] = vs
	}
	o.Header = h
	o.HTTPClient = c.httpClient(rawURL)
	if o.Logger == nil {
		o.Logger = c.log
	}
	offer := protocol.Names(o.Versions)
	if len(offer) == 0 {
		offer = []string{protocol.V5}
	}
	c.logRequest(ctx, "GET", rawURL, h, protocol.HeaderWebSocketProtocol, offer)
	conn, resp, err := websocket.Dial(ctx, rawURL, &o)
	c.logResponse(ctx, WireWebSocket, resp, err)
	if err != nil {
		return wsDialed{}, wsDialError(resp, err)
	}
	return wsDialed{conn: conn, resp: resp}, nil
}

// wsDialError marks a malformed 101 (a handshake the library refused after
// the server switched protocols) as an upgrade failure, as client-go does.
func wsDialError(resp *http.Response, err error) error {
	var ue *UpgradeError
	if errors.As(err, &ue) {
		return err
	}
	if resp != nil && resp.StatusCode == http.StatusSwitchingProtocols {
		return &UpgradeError{Wire: WireWebSocket, StatusCode: resp.StatusCode, Message: "bad handshake", Err: err}
	}
	return err
}

// dialSPDY upgrades rawURL to SPDY/3.1 offering protocols (one header line
// each) and checks the server chose one of them. Pings every 5 s.
func (c *Client) dialSPDY(ctx context.Context, rawURL string, protocols []string) (*spdy.Conn, error) {
	return onceMoreIfUnauthorized(ctx, c, func() (*spdy.Conn, error) { return c.dialSPDYOnce(ctx, rawURL, protocols) })
}

func (c *Client) dialSPDYOnce(ctx context.Context, rawURL string, protocols []string) (*spdy.Conn, error) {
	h, err := c.header(ctx)
	if err != nil {
		return nil, err
	}
	c.logRequest(ctx, "POST", rawURL, h, protocol.HeaderStreamProtocol, protocols)
	conn, resp, err := spdy.Dial(ctx, rawURL, &spdy.DialOptions{
		Protocols:   protocols,
		TLSConfig:   c.tls,
		Header:      h,
		DialContext: c.dialer(rawURL),
		Logger:      c.log,
	})
	c.logResponse(ctx, WireSPDY, resp, err)
	if err != nil {
		return nil, err
	}
	for _, p := range protocols {
		if conn.Protocol() == p {
			return conn, nil
		}
	}
	_ = conn.Abort("protocol not offered")
	return nil, stream.NewProtocolMismatch(WireSPDY, protocols, conn.Protocol())
}

// dialTunnel opens the port-forward tunnel: a WebSocket offering the SPDY
// protocols, each prefixed with SPDY/3.1+ (SPDY/3.1+portforward.k8s.io),
// used as a byte pipe (PROTOCOL.md section 7). The caller runs a SPDY
// client over it, with the protocol its Protocol method names, and owns it.
func (c *Client) dialTunnel(ctx context.Context, rawURL string, protocols []string) (net.Conn, error) {
	return onceMoreIfUnauthorized(ctx, c, func() (net.Conn, error) { return c.dialTunnelOnce(ctx, rawURL, protocols) })
}

func (c *Client) dialTunnelOnce(ctx context.Context, rawURL string, protocols []string) (net.Conn, error) {
	h, err := c.header(ctx)
	if err != nil {
		return nil, err
	}
	offer := make([]string, len(protocols))
	for i, p := range protocols {
		offer[i] = protocol.TunnelPrefix + p
	}
	c.logRequest(ctx, "GET", rawURL, h, protocol.HeaderWebSocketProtocol, offer)
	t, resp, err := websocket.DialTunnel(ctx, rawURL, &websocket.TunnelDialOptions{
		Protocols:  protocols,
		Header:     h,
		HTTPClient: c.httpClient(rawURL),
	})
	c.logResponse(ctx, WireWebSocket, resp, err)
	if err != nil {
		return nil, wsDialError(resp, err)
	}
	return t, nil
}

// logRequest logs an upgrade request at debug level (kubectl -v=6), with
// credentials redacted.
func (c *Client) logRequest(ctx context.Context, method, rawURL string, h http.Header, protoHeader string, offer []string) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	shown := redact(h)
	shown[protoHeader] = []string{strings.Join(offer, ", ")}
	c.log.DebugContext(ctx, "upgrade request", "method", method, "url", rawURL, "headers", shown)
}

// logResponse logs the answer to an upgrade and the wire it gives.
func (c *Client) logResponse(ctx context.Context, wire Wire, resp *http.Response, err error) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if resp == nil {
		c.log.DebugContext(ctx, "upgrade failed", "wire", string(wire), "err", err)
		return
	}
	c.log.DebugContext(ctx, "upgrade response", "wire", string(wire), "status", resp.Status, "headers", redact(resp.Header), "err", err)
}

func redact(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"} {
		if _, ok := out[k]; ok {
			out[k] = []string{"<redacted>"}
		}
	}
	return out
}
