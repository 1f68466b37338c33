package spdy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/porthole/porthole/protocol"
)

// HeaderSPDY31 is the Upgrade token of every Kubernetes SPDY peer.
const HeaderSPDY31 = "SPDY/3.1"

// UpgradeOptions configures Upgrade. The zero value uses the defaults.
type UpgradeOptions struct {
	// Protocols are the X-Stream-Protocol-Version values the server supports,
	// in its order of preference; the client's order wins. Required.
	Protocols []string
	// IdleTimeout ends the connection when no frame moved either way for
	// this long; pings count, as in the kubelet. Default 4 h; negative: none.
	IdleTimeout time.Duration
	// StreamQueue bounds the streams opened by the peer and answered but not
	// yet taken by Accept. Default 64.
	StreamQueue int
	// MaxStreams bounds the streams open at once (in either direction, until
	// both sides are done); more get RST_STREAM CANCEL. Default 1000.
	MaxStreams int
	// Linger bounds the lingering close (see Conn.Close). Default 60 s.
	Linger time.Duration
	// KeepAliveTimeout ends the connection (ErrPeerUnresponsive) when a
	// client that has sent PINGs (client-go does, every 5 s) sends no frame
	// for this long: frozen, or gone without a FIN. Default 20 s; negative:
	// never.
	KeepAliveTimeout time.Duration
	// KeepAlive, when positive, PINGs the client this often, for the
	// proxies and load balancers in between, which cut a connection quiet
	// for longer than their idle timeout (the kubelet sends none: default
	// 0, none). The PINGs and their answers are not activity for
	// IdleTimeout. OnKeepAlive, when set, is told of each one sent.
	KeepAlive   time.Duration
	OnKeepAlive func()
	Logger      *slog.Logger
}

// Upgrade answers a SPDY/3.1 upgrade request the way the kubelet and the CRI
// streaming server do (PROTOCOL.md 4.1 and 2.4), with the same status codes,
// text bodies and headers on failure:
//
//   - no X-Stream-Protocol-Version header: 400
//     "unable to upgrade: header X-Stream-Protocol-Version does not exist in request with N headers"
//   - no common protocol: 403 "unable to upgrade: unable to negotiate protocol:
//     client supports [...], server accepts [...]" and one
//     X-Accepted-Stream-Protocol-Versions header per server protocol
//   - Connection/Upgrade missing: 400 "unable to upgrade: missing upgrade headers in request: <Go syntax of the headers>"
//
// Every X-Stream-Protocol-Version line is read and split at commas; the
// first client value the server supports wins. On success Upgrade writes
// 101 with Connection: Upgrade, Upgrade: SPDY/3.1 and the chosen
// X-Stream-Protocol-Version, hijacks the connection (keeping any bytes the
// client already sent) and returns the running Conn, which the caller must
// Close. On failure the response has been written and the error says why.
func Upgrade(w http.ResponseWriter, r *http.Request, opts *UpgradeOptions) (*Conn, error) {
	if opts == nil {
		opts = &UpgradeOptions{}
	}
	if len(opts.Protocols) == 0 {
		http.Error(w, "unable to upgrade: server supports no protocol", http.StatusInternalServerError)
		return nil, errors.New("spdy upgrade: UpgradeOptions.Protocols is empty")
	}
	chosen, err := handshake(w, r, opts.Protocols)
	if err != nil {
		return nil, err
	}
	if !headerContains(r.Header, "Connection", "upgrade") || !headerContains(r.Header, "Upgrade", "spdy/3.1") {
		msg := fmt.Sprintf("unable to upgrade: missing upgrade headers in request: %#v", r.Header)
		http.Error(w, msg, http.StatusBadRequest)
		return nil, errors.New(msg)
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		msg := "unable to upgrade: unable to hijack response"
		http.Error(w, msg, http.StatusInternalServerError)
		return nil, errors.New(msg)
	}
	w.Header().Add("Connection", "Upgrade")
	w.Header().Add("Upgrade", HeaderSPDY31)
	w.WriteHeader(http.StatusSwitchingProtocols)
	raw, brw, err := hj.Hijack() // flushes the 101
	if err != nil {
		return nil, fmt.Errorf("spdy upgrade: hijack: %w", err)
	}
	// The server's read/write timeouts would otherwise cut the session.
	_ = raw.SetDeadline(time.Time{})
	return newConn(raw, brw.Reader, true, connConfig{
		protocol:    chosen,
		log:         opts.Logger,
		maxStreams:  orDefault(opts.MaxStreams, DefaultMaxStreams),
		queue:       orDefault(opts.StreamQueue, DefaultStreamQueue),
		idle:        durDefault(opts.IdleTimeout, DefaultIdleTimeout),
		alive:       durDefault(opts.KeepAliveTimeout, DefaultKeepAlive),
		linger:      durDefault(opts.Linger, DefaultLinger),
		keepAlive:   opts.KeepAlive,
		onKeepAlive: opts.OnKeepAlive,
	})
}

// handshake negotiates X-Stream-Protocol-Version like the Kubernetes
// servers, writing their error responses, and sets the response header.
func handshake(w http.ResponseWriter, r *http.Request, server []string) (string, error) {
	values, ok := r.Header[protocol.HeaderStreamProtocol]
	if !ok {
		return "", fail(w, http.StatusBadRequest, "unable to upgrade: header %s does not exist in request with %d headers", protocol.HeaderStreamProtocol, len(r.Header))
	}
	if len(values) == 0 {
		return "", fail(w, http.StatusBadRequest, "unable to upgrade: header %s is empty", protocol.HeaderStreamProtocol)
	}
	client := splitProtocols(values)
	if len(client) == 0 {
		return "", fail(w, http.StatusBadRequest, "unable to upgrade: header %s contains %s, but no valid protocols", protocol.HeaderStreamProtocol, values)
	}
	chosen, ok := protocol.Negotiate(client, server)
	if !ok {
		for _, p := range server {
			w.Header().Add(protocol.HeaderAcceptedProtocol, p)
		}
		return "", fail(w, http.StatusForbidden, "unable to upgrade: unable to negotiate protocol: client supports %v, server accepts %v", client, server)
	}
	w.Header().Add(protocol.HeaderStreamProtocol, chosen)
	return chosen, nil
}

func fail(w http.ResponseWriter, code int, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	http.Error(w, err.Error(), code)
	return err
}

// splitProtocols splits every header line at commas and trims spaces only
// (not tabs), exactly as the Kubernetes servers do, so that the 403 text
// lists the same values.
func splitProtocols(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.Trim(p, " "); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// headerContains is the Kubernetes check: the first line of the header,
// lower-cased, contains token as a substring.
func headerContains(h http.Header, name, token string) bool {
	return strings.Contains(strings.ToLower(h.Get(name)), token)
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// durDefault maps 0 to def and a negative value to 0 (disabled).
func durDefault(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
