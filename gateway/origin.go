package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/porthole/porthole/protocol/status"
)

// loopbackHosts are the Host names accepted by default without
// authentication.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// acceptHosts is the Host allow-list in force; nil means any host.
func (g *Gateway) acceptHosts() []string {
	switch {
	case len(g.opts.AcceptHosts) > 0:
		return g.opts.AcceptHosts
	case g.authConfigured():
		return nil
	default:
		return loopbackHosts
	}
}

// hostName is host without its port and IPv6 brackets, lower-cased.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
}

// matchHost matches host against patterns with its port ("ui.example:8443")
// or without it ("ui.example").
func matchHost(patterns []string, host string) bool {
	name, full := hostName(host), strings.ToLower(host)
	for _, p := range patterns {
		p = strings.ToLower(p)
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, full); ok {
			return true
		}
	}
	return false
}

// checkHost refuses a Host outside the allow-list (see Options.AcceptHosts).
func (g *Gateway) checkHost(r *http.Request) *status.HTTPError {
	hosts := g.acceptHosts()
	if hosts == nil || matchHost(hosts, r.Host) {
		return nil
	}
	return status.NewHTTPError(http.StatusForbidden, "Forbidden", fmt.Sprintf("host %q is not accepted (see --accept-hosts)", r.Host), nil)
}

// Guard serves h only for requests whose Host is accepted and whose path
// is plain (see checkPath), as the gateway itself does: for the pages
// served beside it (the web terminal), whose router would otherwise
// redirect a dot-segment path before the gateway saw it.
func (g *Gateway) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if herr := g.checkHost(r); herr != nil {
			g.refuse(w, r, nil, herr)
			return
		}
		if herr := checkPath(r.URL); herr != nil {
			g.refuse(w, r, nil, herr)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkOrigin allows requests without Origin (kubectl, client-go),
// same-origin browser requests (Origin names the Host, which checkHost has
// already held against the allow-list: a rebinding page's Host is its own
// name and is refused there) and origins matching an allowed pattern;
// anything else, another port of the same machine included, is a
// cross-site request that could ride on the user's ambient credentials
// (PROTOCOL.md 11.1).
func (g *Gateway) checkOrigin(r *http.Request) *status.HTTPError {
	origin := r.Header.Get("Origin")
	if origin == "" || g.opts.InsecureSkipOriginCheck {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return forbiddenOrigin(origin)
	}
	// Same origin: the Host itself passed the allow-list (checkHost), so a
	// rebinding page, whose Host is its own name, never gets here.
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, p := range g.opts.OriginPatterns {
		// Port included, as before: a pattern without one allows the
		// default port only.
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return nil
		}
	}
	return forbiddenOrigin(origin)
}

func forbiddenOrigin(origin string) *status.HTTPError {
	return status.NewHTTPError(http.StatusForbidden, "Forbidden", fmt.Sprintf("origin %q is not allowed to open sessions", origin), nil)
}
