// Package client is the library's front door to Kubernetes container
// streaming: Exec, Attach (and, in sibling files, port-forward and copy)
// against an API server, a kubelet or a porthole node.
//
// Every session tries WebSocket first (v5.channel.k8s.io, or the
// SPDY/3.1+portforward.k8s.io tunnel) and falls back to SPDY/3.1 only when the
// WebSocket upgrade itself failed, exactly as kubectl 1.37 does (PROTOCOL.md
// section 9): a non-101 answer, a malformed 101 or a subprotocol that was not
// offered. Network errors, proxy errors and anything after a successful 101
// never fall back, so a session's bytes are never sent twice.
//
// The package owns authentication headers, TLS, proxies and the choice of
// wire; framing lives in transport/websocket and transport/spdy, and the
// reading of kubeconfig files in package kube.
package client

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/porthole/porthole/protocol"
)

// Wire selects the transport of a session: protocol.Wire, with "" for
// automatic.
type Wire = protocol.Wire

const (
	// WireAuto tries WebSocket and falls back to SPDY on an upgrade failure.
	WireAuto Wire = ""
	// WireWebSocket uses WebSocket only.
	WireWebSocket = protocol.WebSocket
	// WireSPDY uses SPDY/3.1 only.
	WireSPDY = protocol.SPDY
)

// ParseWire parses the --protocol flag: auto, websocket or spdy.
func ParseWire(s string) (Wire, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return WireAuto, nil
	case "websocket", "ws":
		return WireWebSocket, nil
	case "spdy":
		return WireSPDY, nil
	}
	return "", fmt.Errorf("unknown protocol %q (want auto, websocket or spdy)", s)
}

// Config says where the server is and how to authenticate. The zero value
// but for Host is usable: no credentials, system roots, proxies from the
// environment, WebSocket first.
type Config struct {
	// Host is the server's base URL (https://host:6443, http://127.0.0.1:8080,
	// or with a path prefix); a bare host:port means https.
	Host string
	// TLSClientConfig for https; ALPN is forced to http/1.1 (upgrades cannot
	// run over HTTP/2).
	TLSClientConfig *tls.Config
	// BearerToken is sent as "Authorization: Bearer". BearerTokenFile, when
	// set, is re-read for every request and wins over BearerToken, as
	// client-go lets the file rotate.
	BearerToken, BearerTokenFile string
	// TokenSource, when set, supplies the bearer token for every request (an
	// exec credential plugin); it wins over the two fields above.
	TokenSource func(ctx context.Context) (string, error)
	// RefreshCredentials, when set, drops TokenSource's cached credential:
	// after a 401 it is called and the request is made once more (client-go
	// only refreshes for the next request).
	RefreshCredentials func()
	// Username and Password are sent as basic auth when no token is set.
	Username, Password string
	// Impersonate, ImpersonateUID and ImpersonateGroups become the
	// Impersonate-User, Impersonate-Uid and Impersonate-Group headers.
	Impersonate       string
	ImpersonateUID    string
	ImpersonateGroups []string
	// Timeout bounds each plain API request (the pod lookup, completion's
	// list), as kubectl's --request-timeout; never a session. 0: none.
	Timeout time.Duration
	// Proxy picks the proxy for a request (default http.ProxyFromEnvironment:
	// HTTP_PROXY, HTTPS_PROXY, NO_PROXY). Every upgrade goes through the
	// proxy as an HTTP CONNECT tunnel, for WebSocket and SPDY alike.
	Proxy func(*http.Request) (*url.URL, error)
	// Header is added to every request.
	Header http.Header
	// Wire is the default wire of sessions (WireAuto).
	Wire Wire
	// Logger receives the upgrade requests and responses (debug level) and
	// fallbacks (info). Default: discard.
	Logger *slog.Logger
}

// Client opens streaming sessions. It is safe for concurrent use and holds
// no connection between sessions, so it needs no Close.
type Client struct {
	cfg  Config
	base *url.URL
	tls  *tls.Config
	log  *slog.Logger
}

// New checks cfg and returns a Client. cfg is copied.
func New(cfg *Config) (*Client, error) {
	if cfg == nil || cfg.Host == "" {
		return nil, errors.New("client: no host")
	}
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("client: host %q: %w", cfg.Host, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: host %q: scheme must be http or https", cfg.Host)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: host %q: no host name", cfg.Host)
	}
	c := &Client{cfg: *cfg, base: u, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if cfg.TLSClientConfig != nil {
		c.tls = cfg.TLSClientConfig.Clone()
	} else {
		c.tls = &tls.Config{}
	}
	c.tls.NextProtos = []string{"http/1.1"}
	if c.cfg.Proxy == nil {
		c.cfg.Proxy = http.ProxyFromEnvironment
	}
	return c, nil
}

// url returns the absolute URL of path (which starts with '/') under the
// configured host, with query q.
func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String()
}

// header returns the headers of one request: Config.Header, credentials and
// impersonation. It reads the token file or runs the token source now.
func (c *Client) header(ctx context.Context) (http.Header, error) {
	h := c.cfg.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	token := c.cfg.BearerToken
	if c.cfg.BearerTokenFile != "" {
		b, err := os.ReadFile(c.cfg.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token file: %w", err)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			token = t
		}
	}
	if c.cfg.TokenSource != nil {
		t, err := c.cfg.TokenSource(ctx)
		if err != nil {
			return nil, fmt.Errorf("get credentials: %w", err)
		}
		if t != "" {
			token = t
		}
	}
	switch {
	case token != "":
		h.Set("Authorization", "Bearer "+token)
	case c.cfg.Username != "" || c.cfg.Password != "":
		cred := base64.StdEncoding.EncodeToString([]byte(c.cfg.Username + ":" + c.cfg.Password))
		h.Set("Authorization", "Basic "+cred)
	}
	if c.cfg.Impersonate != "" {
		h.Set("Impersonate-User", c.cfg.Impersonate)
	}
	if c.cfg.Impersonate != "" && c.cfg.ImpersonateUID != "" {
		h.Set("Impersonate-Uid", c.cfg.ImpersonateUID)
	}
	for _, g := range c.cfg.ImpersonateGroups {
		h.Add("Impersonate-Group", g)
	}
	return h, nil
}

// onceMoreIfUnauthorized runs f, and when the server refused the
// credentials (401) and they can be refreshed, refreshes them and runs f
// once more.
func onceMoreIfUnauthorized[T any](ctx context.Context, c *Client, f func() (T, error)) (T, error) {
	v, err := f()
	if err == nil || c.cfg.RefreshCredentials == nil || !unauthorized(err) {
		return v, err
	}
	c.log.InfoContext(ctx, "the server refused the credentials (401): running the credential plugin again")
	c.cfg.RefreshCredentials()
	return f()
}

// unauthorized reports whether err is a server's 401, from a plain request
// or an upgrade on either wire.
func unauthorized(err error) bool {
	var ae *APIError
	var ue *UpgradeError
	switch {
	case errors.As(err, &ae):
		return ae.StatusCode == http.StatusUnauthorized
	case errors.As(err, &ue):
		return ue.StatusCode == http.StatusUnauthorized
	}
	return false
}
