// Package upgrade opens the connections an HTTP/1.1 upgrade runs on and
// makes the request's round trip on them, bounded: the SPDY dialer, the
// client's proxy tunnels and the gateway's upstream dials share it.
package upgrade

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DialFunc opens a TCP connection (net.Dialer.DialContext, a proxy hook).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Addr is u's host:port, the port defaulting to the scheme's (80, or 443
// for https).
func Addr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Dial connects to u's host with dial (nil: a net.Dialer) and, for https,
// runs TLS with a copy of cfg whose ServerName defaults to u's host and
// whose ALPN offers http/1.1 only: an upgrade cannot run over HTTP/2.
func Dial(ctx context.Context, u *url.URL, dial DialFunc, cfg *tls.Config) (net.Conn, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	c, err := dial(ctx, "tcp", Addr(u))
	if err != nil || u.Scheme == "http" {
		return c, err
	}
	tc := tls.Client(c, TLSConfig(cfg, u.Hostname()))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// TLSConfig is a copy of cfg (nil: defaults) for an upgrade to host:
// ServerName defaulting to host, ALPN http/1.1 only.
func TLSConfig(cfg *tls.Config, host string) *tls.Config {
	out := &tls.Config{}
	if cfg != nil {
		out = cfg.Clone()
	}
	if out.ServerName == "" {
		out.ServerName = host
	}
	out.NextProtos = []string{"http/1.1"}
	return out
}

// MaxHead bounds a response head (status line and headers): a hostile or
// broken server cannot make the reader buffer without end.
const MaxHead = 1 << 20

// ErrHeadTooLarge reports a response head over MaxHead.
var ErrHeadTooLarge = errors.New("response head too large")

// RoundTrip writes req on c and reads the response head, at most MaxHead
// bytes, never following a redirect. Cancelling ctx unblocks it through c's
// deadline. The reader holds whatever came after the head (the upgraded
// protocol's first bytes) and reads c from then on, unbounded. On error c
// is the caller's to close; resp is returned whenever a head was read.
func RoundTrip(ctx context.Context, c net.Conn, req *http.Request) (*bufio.Reader, *http.Response, error) {
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	hl := &headLimit{r: c, left: MaxHead}
	br := bufio.NewReader(hl)
	err := req.Write(c)
	if err != nil {
		err = fmt.Errorf("write request: %w", err)
	}
	var resp *http.Response
	if err == nil {
		if resp, err = http.ReadResponse(br, req); err != nil {
			err = fmt.Errorf("read response: %w", err)
		}
	}
	if !stop() {
		if err == nil {
			err = ctx.Err()
		}
		return nil, resp, err
	}
	if err != nil {
		return nil, resp, err
	}
	hl.left = -1 // the head is read: no bound from here
	return br, resp, nil
}

// headLimit bounds what ReadResponse may read (left < 0: unbounded).
type headLimit struct {
	r    io.Reader
	left int
}

func (h *headLimit) Read(p []byte) (int, error) {
	if h.left < 0 {
		return h.r.Read(p)
	}
	if h.left == 0 {
		return 0, ErrHeadTooLarge
	}
	if len(p) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	h.left -= n
	return n, err
}
