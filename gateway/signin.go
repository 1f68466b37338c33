package gateway

import (
	"net/http"
	"strings"
)

// SignInPath is where a BrowserSignIn's routes are served, before
// authentication (the sign-in itself cannot require it).
const SignInPath = "/oidc/"

// signInSession is where the web terminal asks whether sign-in is on and
// who is signed in.
const signInSession = SignInPath + "session"

// BrowserSignIn signs browser users in through an identity provider and
// then knows them by a session cookie (OpenID Connect's authorization code
// flow in gateway/oidc). The gateway serves its routes under SignInPath,
// with the Host, path and Origin checks of every other request, and asks
// it about a request's cookie only when the request provably comes from a
// page of this origin (see sameOriginRequest): a cookie rides along on
// cross-site requests too, and must not open a session for them.
type BrowserSignIn interface {
	http.Handler
	// AuthenticateSession finds the user of r's session cookie. ok is false
	// when r has none; err says why a cookie was refused.
	AuthenticateSession(r *http.Request) (u *User, ok bool, err error)
}

// sessionUser authenticates r by its session cookie, if sign-in is on and
// r comes from a page of this origin; nil, nil when it does not apply.
func (g *Gateway) sessionUser(r *http.Request) (*User, error) {
	if g.opts.SignIn == nil || !g.sameOriginRequest(r) {
		return nil, nil
	}
	u, ok, err := g.opts.SignIn.AuthenticateSession(r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	return withAuthenticated(u), nil
}

// sameOriginRequest reports whether a browser says r comes from a page the
// gateway serves (or an allowed origin): an Origin that checkOrigin
// accepts (browsers send it on every WebSocket handshake and every
// non-GET fetch), or Sec-Fetch-Site: same-origin (every current browser
// sends it on fetches, which carry no Origin when they are same-origin
// GETs). A cross-site form, link or image sends neither, so its cookie is
// ignored: this is the CSRF defence, on top of the cookie's SameSite.
func (g *Gateway) sameOriginRequest(r *http.Request) bool {
	if r.Header.Get("Origin") != "" {
		return g.checkOrigin(r) == nil
	}
	return strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "same-origin")
}

// serveSignIn serves SignInPath with the sign-in handler, and reports
// whether it did. A request with an Origin from elsewhere is refused
// there too (a cross-site POST to log a user out).
func (g *Gateway) serveSignIn(w http.ResponseWriter, r *http.Request) bool {
	if g.opts.SignIn == nil && r.URL.Path == signInSession && r.Method == http.MethodGet {
		// The web terminal asks whether it may offer a sign-in: no. (An
		// answer, not a 404, which the page would report as an error.)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("{}\n"))
		return true
	}
	if g.opts.SignIn == nil || !strings.HasPrefix(r.URL.Path, SignInPath) {
		return false
	}
	if herr := g.checkOrigin(r); herr != nil {
		g.refuse(w, r, nil, herr)
		return true
	}
	g.opts.SignIn.ServeHTTP(w, r)
	return true
}
