package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/internal/upgrade"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

const upstreamHandshakeTimeout = 30 * time.Second

// dropHeaders are never forwarded upstream: the client's credentials (the
// gateway authenticated it and speaks upstream with its own), impersonation
// (only the gateway may impersonate), hop-by-hop headers, and Origin
// (checked here; the upstream sees the gateway, not the browser).
var dropHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Origin", "Keep-Alive",
	"Te", "Trailer", "Transfer-Encoding", "Proxy-Connection", "Content-Length", "Host", "Connection",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"}

// identityPrefixes and identityNames are headers that claim who the caller
// is: impersonation, the API server's front-proxy headers (X-Remote-User,
// -Group, -Extra-*) and the headers of common authenticating proxies. Only
// the gateway speaks for the caller upstream, so a client's copy of any of
// them, in any case and with '_' for '-' (some proxies and servers treat
// them alike), never passes.
var (
	identityPrefixes = []string{"impersonate-", "x-remote-", "x-auth-request-", "x-porthole-peer-"}
	identityNames    = []string{"x-forwarded-user", "x-forwarded-groups", "x-forwarded-email",
		"x-forwarded-preferred-username", "x-forwarded-access-token"}
)

// identityHeader reports whether the header named k claims an identity.
func identityHeader(k string) bool {
	n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
	for _, p := range identityPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return slices.Contains(identityNames, n)
}

// upstreamHeader is r's header as sent upstream: filtered, then the
// upstream credentials and, if configured, impersonation of the caller.
func (g *Gateway) upstreamHeader(r *http.Request, u *User) http.Header {
	h := r.Header.Clone()
	for _, tok := range protocol.SplitHeader(h.Values("Connection")) {
		if !strings.EqualFold(tok, "upgrade") {
			h.Del(tok)
		}
	}
	for _, k := range dropHeaders {
		h.Del(k)
	}
	for k := range h {
		if identityHeader(k) {
			delete(h, k)
		}
	}
	g.upstreamIdentity(h, u)
	return h
}

// upstreamIdentity sets on h who the gateway speaks as upstream: its own
// credentials and, if configured, the impersonated caller.
func (g *Gateway) upstreamIdentity(h http.Header, u *User) {
	for k, vs := range g.opts.UpstreamHeader {
		h[textproto.CanonicalMIMEHeaderKey(k)] = append([]string(nil), vs...)
	}
	if g.upstreamToken != nil {
		// A file that went unreadable keeps the last token it gave.
		if tok, _ := g.upstreamToken.get(); tok != "" {
			h.Set("Authorization", "Bearer "+tok)
		}
	}
	if g.opts.Impersonate && u != nil {
		h.Set("Impersonate-User", u.Name)
		for _, grp := range u.Groups {
			if grp != GroupAuthenticated {
				h.Add("Impersonate-Group", grp)
			}
		}
	}
}

// roundTripUpgrade sends out on a fresh connection (TLS with ALPN
// http/1.1 for https: an upgrade cannot run over HTTP/2) and reads the
// response head, never following redirects. The connection is returned
// with the reader holding any bytes read past the head; the caller owns it
// on every path where err is nil.
func (g *Gateway) roundTripUpgrade(ctx context.Context, out *http.Request) (net.Conn, *bufio.Reader, *http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, upstreamHandshakeTimeout)
	defer cancel()
	c, err := upgrade.Dial(ctx, out.URL, g.opts.DialContext, g.opts.UpstreamTLS)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dial upstream: %w", err)
	}
	br, resp, err := upgrade.RoundTrip(ctx, c, out)
	if err != nil {
		c.Close()
		return nil, nil, nil, fmt.Errorf("upstream handshake: %w", err)
	}
	return c, br, resp, nil
}

// newUpstreamRequest is the upgrade request sent upstream for r.
func (g *Gateway) newUpstreamRequest(r *http.Request, s *session) *http.Request {
	target := g.upstreamURL(r.URL.Path, r.URL.RawQuery)
	h := g.upstreamHeader(r, s.user)
	h.Set("Connection", "Upgrade")
	return &http.Request{Method: r.Method, URL: target, Host: target.Host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// proxyUpgrade is the raw, upgrade-aware proxy (PROTOCOL.md 11.4): splice
// only after the upstream's 101.
func (g *Gateway) proxyUpgrade(w http.ResponseWriter, r *http.Request, s *session) outcome {
	if g.opts.InProcess != nil {
		return g.proxyInProcess(w, r, s)
	}
	out := g.newUpstreamRequest(r, s)
	up, br, resp, err := g.roundTripUpgrade(r.Context(), out)
	if err != nil {
		return g.upstreamFailed(w, s, "dial", err)
	}
	if !g.acceptUpgrade(w, s, up, resp, r.Header.Get("Upgrade")) {
		return outcomeRefused
	}
	client, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		s.fail("hijack: " + err.Error())
		return outcomeError
	}
	if err := writeHead(client, cbuf.Writer, resp); err != nil {
		up.Close()
		client.Close()
		s.fail("write 101: " + err.Error())
		return outcomeError
	}
	cs := g.wrapClient(s, client, resp)
	defer cs.done()
	return g.splice(s, cs.dst, cbuf.Reader, up, br, cs.inspect, cs.tap, cs.echoes)
}

// clientSide is the hijacked client of a raw-proxied session as the
// session uses it: dst, the closer through which the upstream's bytes go
// (so the gateway can still say its last word), and the followers of both
// directions (limits, resizes, recording, live watchers).
type clientSide struct {
	dst          net.Conn
	inspect, tap func([]byte) error
	echoes       *echoFilter // takes the answers to the keep-alive out of the client's bytes
	done         func()      // stops the keep-alive and closes the recording
}

// wrapClient sets up the client side of a session whose upstream answered
// resp: the recording, the wire's closer (registered to say the last word
// on a cut or a limit) and its keep-alive.
func (g *Gateway) wrapClient(s *session, client net.Conn, resp *http.Response) clientSide {
	rec := g.startRecording(s)
	var onResize func([]byte)
	if rec != nil || (s.live != nil && s.tty) {
		onResize = (&sizeSink{rec: rec, live: s.live}).feed
	}
	var dst net.Conn = client
	var pinger keepAliver
	var echoes *echoFilter
	if s.wireIn == protocol.WebSocket {
		wc := newWSCloser(client)
		pinger, echoes = wc, newWSEchoFilter()
		s.onCut(func(reason string) {
			code := uint16(closePolicy)
			if reason == reasonShutdown {
				code = closeGoingAwy
			}
			wc.closeWith(code, reason)
		})
		s.onLimit = func(l *LimitError) { wc.closeWith(l.closeCode(), l.Msg) }
		s.onUpstreamReset = func() bool { return wc.closeWith(closeBadGateway, reasonUpstreamReset) }
		dst = wc
	}
	var ids *spdyStreamIDs
	if s.wireIn == protocol.SPDY {
		watch := &spdyStreamIDs{}
		sc := newSPDYCloser(client, resp.Header.Get(protocol.HeaderStreamProtocol), watch)
		pinger, echoes = sc, newSPDYEchoFilter(sc.mine)
		dst = sc
		// A port-forward gets the keep-alive only: it has no session
		// status to say when cut (its error streams, one per connection,
		// carry text), so the inspector does not look for one.
		if s.verb != "portforward" {
			ids = watch
			s.onCut(func(reason string) { sc.closeWith(reason) })
			s.onLimit = func(l *LimitError) { sc.closeWith(l.Msg) }
			s.onUpstreamReset = func() bool { return sc.closeWith(reasonUpstreamReset) }
		}
	}
	stopPing := func() {}
	if pinger != nil && g.opts.KeepAlive >= 0 {
		k := g.keepAlive(pinger)
		echoes.pinger = k // the client's own bytes are activity too
		stopPing = k.Stop
	} else {
		echoes = nil
	}
	return clientSide{dst: dst, inspect: g.inspector(s, onResize, ids), tap: outputTap(s, rec, ids), echoes: echoes,
		done: func() {
			stopPing()
			if rec != nil {
				rec.Close()
			}
		}}
}

// keepAliver is a spliced client connection the gateway pings (wsCloser,
// spdyCloser): ping writes one between the upstream's frames, if it can;
// the upstream's writes touch the pinger, as the client's bytes do (the
// echo filter), so only a connection quiet both ways is pinged (see
// idle.KeepAlive).
type keepAliver interface {
	ping() bool
	touches(*idle.Pinger)
}

// keepAlive pings the client every Options.KeepAlive in which nothing
// moved either way (see idle.KeepAlive) until the Pinger is stopped, after
// which no ping is sent (a ping in flight is waited for).
func (g *Gateway) keepAlive(p keepAliver) *idle.Pinger {
	k := idle.KeepAlive(g.opts.KeepAlive, func() (bool, bool) { return p.ping(), true }, g.metrics.keepAlives.Inc)
	p.touches(k)
	return k
}

// upstreamFailed answers a failure to reach the upstream like the API
// server: 500 "error dialing backend: ...".
func (g *Gateway) upstreamFailed(w http.ResponseWriter, s *session, cause string, err error) outcome {
	g.metrics.upgradeFails.WithLabelValues(cause).Inc()
	s.fail(err.Error())
	w.Header().Set("Connection", "close")
	status.Write(w, status.NewHTTPError(http.StatusInternalServerError, "", "error dialing backend: "+err.Error(), nil).Status)
	return outcomeUpstreamError
}

// acceptUpgrade reports whether resp is a 101 for the protocol the client
// asked for. Otherwise it answers the client, relaying a 4xx/5xx verbatim
// or replacing any other code (redirects included, never followed) with a
// 500, marks the client connection to close, and closes up (nil for an
// in-process upstream, which has no connection).
func (g *Gateway) acceptUpgrade(w http.ResponseWriter, s *session, up net.Conn, resp *http.Response, want string) bool {
	if resp.StatusCode == http.StatusSwitchingProtocols && protocol.HeaderHasToken(resp.Header, "Upgrade", want) {
		return true
	}
	if up != nil {
		defer up.Close()
	}
	w.Header().Set("Connection", "close")
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		g.metrics.upgradeFails.WithLabelValues("wrong-protocol").Inc()
		s.fail("upstream switched to " + resp.Header.Get("Upgrade"))
		status.Write(w, status.NewHTTPError(500, "", "invalid upgrade response: upgrade to "+resp.Header.Get("Upgrade"), nil).Status)
	case resp.StatusCode < 400:
		cause := "invalid-status"
		if resp.StatusCode >= 300 {
			cause = "redirect"
		}
		g.metrics.upgradeFails.WithLabelValues(cause).Inc()
		s.fail(fmt.Sprintf("upstream answered %d", resp.StatusCode))
		status.Write(w, status.NewHTTPError(500, "", fmt.Sprintf("invalid upgrade response: status code %d", resp.StatusCode), nil).Status)
	default:
		if up != nil {
			up.SetReadDeadline(time.Now().Add(statusWriteTimeout))
		}
		g.relayRefusal(w, s, "refused", resp, resp.Body)
	}
	return false
}

// relayRefusal answers the client with the upstream's refusal of an
// upgrade, before any upgrade of the client: its status, headers (but the
// hop-by-hop ones) and body (at most refusalBodyLimit), as the API server
// relays the kubelet's; the connection then closes.
func (g *Gateway) relayRefusal(w http.ResponseWriter, s *session, cause string, resp *http.Response, body io.Reader) {
	g.metrics.upgradeFails.WithLabelValues(cause).Inc()
	s.fail(fmt.Sprintf("upstream refused with %d", resp.StatusCode))
	for k, vs := range resp.Header {
		if k == "Connection" || k == "Content-Length" || k == "Transfer-Encoding" || k == "Keep-Alive" {
			continue
		}
		w.Header()[k] = vs
	}
	w.Header().Set("Connection", "close")
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(body, refusalBodyLimit))
}

// writeHead forwards the upstream's 101 head to the hijacked client.
func writeHead(c net.Conn, w *bufio.Writer, resp *http.Response) error {
	c.SetWriteDeadline(time.Now().Add(statusWriteTimeout))
	defer c.SetWriteDeadline(time.Time{})
	fmt.Fprintf(w, "HTTP/1.1 101 %s\r\n", http.StatusText(http.StatusSwitchingProtocols))
	if err := resp.Header.Write(w); err != nil {
		return err
	}
	w.WriteString("\r\n")
	return w.Flush()
}
