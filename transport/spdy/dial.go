package spdy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/porthole/porthole/internal/upgrade"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

// maxErrorBody bounds how much of a refusal's body Dial reads.
const maxErrorBody = 64 * 1024

// DialOptions configures Dial. The zero value uses the defaults.
type DialOptions struct {
	// Protocols are offered as one X-Stream-Protocol-Version line each, most
	// preferred first (e.g. protocol.SPDYClientOffer).
	Protocols []string
	// TLSConfig for https URLs. ServerName defaults to the URL's host, and
	// ALPN is forced to http/1.1: an upgrade cannot run over HTTP/2.
	TLSConfig *tls.Config
	// Header is sent with the request (Authorization, say).
	Header http.Header
	// PingPeriod between SPDY PINGs, like client-go. Default 5 s; negative: none.
	PingPeriod time.Duration
	// KeepAliveTimeout ends the connection (ErrPeerUnresponsive) when no
	// frame, not even a PING reply, came for this long. Default 20 s, so a
	// frozen server is noticed within 25 s; negative: never.
	KeepAliveTimeout time.Duration
	// DialContext opens the TCP connection (a proxy hook). Default net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Linger bounds the lingering close (see Conn.Close). Default 60 s.
	Linger time.Duration
	Logger *slog.Logger
}

// Dial upgrades rawURL (http or https) to SPDY/3.1 as client-go does: POST,
// Content-Length 0, Connection: Upgrade, Upgrade: SPDY/3.1 and the offered
// protocols. Redirects are not followed. The response is returned in every
// case the server answered; on refusal its Body holds the bytes read and the
// error is a *stream.UpgradeError. A 101 without X-Stream-Protocol-Version means
// channel.k8s.io, as client-go assumes; the caller checks Conn.Protocol is
// one it offered. ctx bounds the dial and the HTTP exchange only.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("spdy dial: %w", err)
	}
	raw, err := upgrade.Dial(ctx, u, opts.DialContext, opts.TLSConfig)
	if err != nil {
		return nil, nil, fmt.Errorf("spdy dial %s: %w", u.Redacted(), err)
	}
	br, resp, err := roundTrip(ctx, raw, u, opts)
	if err != nil {
		_ = raw.Close()
		return nil, resp, err
	}
	proto := resp.Header.Get(protocol.HeaderStreamProtocol)
	if proto == "" {
		proto = protocol.V1
	}
	// Kubernetes servers never open streams; if one does, the client side
	// has the server's defaults (queue, limit) and Accept takes them.
	c, err := newConn(raw, br, false, connConfig{
		protocol:   proto,
		log:        opts.Logger,
		maxStreams: DefaultMaxStreams,
		queue:      DefaultStreamQueue,
		ping:       durDefault(opts.PingPeriod, DefaultPingPeriod),
		alive:      durDefault(opts.KeepAliveTimeout, DefaultKeepAlive),
		linger:     durDefault(opts.Linger, DefaultLinger),
	})
	return c, resp, err
}

// roundTrip writes the upgrade request and reads the response, checking it
// like client-go. br may hold SPDY bytes that followed the 101.
func roundTrip(ctx context.Context, raw net.Conn, u *url.URL, opts *DialOptions) (*bufio.Reader, *http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("spdy dial: %w", err)
	}
	for k, vs := range opts.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Add("Connection", "Upgrade")
	req.Header.Add("Upgrade", HeaderSPDY31)
	for _, p := range opts.Protocols {
		req.Header.Add(protocol.HeaderStreamProtocol, p)
	}
	br, resp, err := upgrade.RoundTrip(ctx, raw, req)
	if err != nil {
		return nil, resp, fmt.Errorf("spdy dial: %w", err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols &&
		headerContains(resp.Header, "Connection", "upgrade") &&
		headerContains(resp.Header, "Upgrade", "spdy/3.1") {
		return br, resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return nil, resp, fmt.Errorf("unable to upgrade connection: unable to read error from server response: %w", err)
	}
	return nil, resp, stream.NewUpgradeRefusal(protocol.SPDY, resp.StatusCode, body)
}
