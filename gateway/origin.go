package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// checkOrigin allows requests without Origin (kubectl, client-go) and
// browser requests whose Origin host is the request's Host or matches an
// allowed pattern; anything else is a cross-site request that could ride
// on the user's ambient credentials (PROTOCOL.md 11.1).
func (g *Gateway) checkOrigin(r *http.Request) *httpError {
	origin := r.Header.Get("Origin")
	if origin == "" || g.opts.InsecureSkipOriginCheck {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return forbiddenOrigin(origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, p := range g.opts.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return nil
		}
	}
	return forbiddenOrigin(origin)
}

func forbiddenOrigin(origin string) *httpError {
	return &httpError{code: http.StatusForbidden, reason: "Forbidden",
		msg: fmt.Sprintf("origin %q is not allowed to open sessions", origin)}
}
