package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// User is an authenticated caller.
type User struct {
	Name   string
	UID    string
	Groups []string
	// ImpersonatedBy names the authenticated caller when this user is
	// one it impersonates (kubectl --as).
	ImpersonatedBy string
}

// Well-known names, as the API server uses them.
const (
	Anonymous            = "system:anonymous"
	GroupUnauthenticated = "system:unauthenticated"
	GroupAuthenticated   = "system:authenticated"
	// BearerProtocolPrefix carries a bearer token in Sec-WebSocket-Protocol
	// for browsers, which cannot set headers (PROTOCOL.md 11.1).
	BearerProtocolPrefix = "base64url.bearer.authorization.k8s.io."
)

// TokenAuthenticator checks a bearer token. ok is false for an unknown token.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (u *User, ok bool, err error)
}

type userKey struct{}

func withUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

func userFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

// UserName names the caller of a request served behind Authenticated, in
// the shape web.SiteOptions.User takes.
func UserName(r *http.Request) (string, bool) {
	u := userFrom(r.Context())
	if u == nil {
		return "", false
	}
	return u.Name, true
}

// UserGroups returns the groups of the caller of a request served behind
// Authenticated (nil for none), for pages that authorize by group such as
// the recordings' auditors.
func UserGroups(r *http.Request) []string {
	u := userFrom(r.Context())
	if u == nil {
		return nil
	}
	return u.Groups
}

// Authenticated serves h only to callers the gateway authenticates (the
// same credentials, refusals and audit as its streaming paths); h finds the
// caller with UserName. It is for pages served beside the gateway, such as
// the web terminal's recordings.
func (g *Gateway) Authenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, herr := g.authenticate(r)
		if herr != nil {
			g.refuse(w, r, nil, herr)
			return
		}
		h.ServeHTTP(w, r.WithContext(withUser(r.Context(), user)))
	})
}

func unauthorized(msg string, err error) *status.HTTPError {
	return status.NewHTTPError(http.StatusUnauthorized, "Unauthorized", msg, err)
}

// authenticate finds the caller: a client certificate, then a bearer token
// (header, or the WebSocket subprotocol, which is stripped from r either
// way), then a browser session (Options.SignIn), then anonymous under the
// rules of Options.AllowAnonymous.
func (g *Gateway) authenticate(r *http.Request) (*User, *status.HTTPError) {
	wsToken, err := takeProtocolToken(r)
	if err != nil {
		return nil, unauthorized("Unauthorized", err)
	}
	if !g.authConfigured() {
		// Nothing could verify a credential: it is ignored, and the caller
		// is anonymous under the loopback rule, as serve's demo always was
		// (the web terminal signs in with any token).
		return g.anonymous(r)
	}
	if u := g.certUser(r); u != nil {
		return u, nil
	}
	token := wsToken
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "bearer") && strings.TrimSpace(t) != "" {
			token = strings.TrimSpace(t)
		} else if token == "" {
			return nil, unauthorized("Unauthorized", errors.New("unsupported Authorization header"))
		}
	}
	if token == "" {
		u, err := g.sessionUser(r)
		if err != nil {
			return nil, unauthorized("Unauthorized", err)
		}
		if u != nil {
			return u, nil
		}
	}
	if token != "" {
		if g.opts.Tokens == nil {
			return nil, unauthorized("Unauthorized", errors.New("bearer token presented but no token authentication is configured"))
		}
		u, ok, err := g.opts.Tokens.AuthenticateToken(r.Context(), token)
		if err != nil || !ok {
			return nil, unauthorized("Unauthorized", err)
		}
		return withAuthenticated(u), nil
	}
	return g.anonymous(r)
}

// accountable is whom u's sessions count against (the per-user limit):
// the impersonator, when there is one, so that impersonating many users
// does not multiply one caller's share.
func (u *User) accountable() string {
	if u.ImpersonatedBy != "" {
		return u.ImpersonatedBy
	}
	return u.Name
}

func withAuthenticated(u *User) *User {
	c := *u
	c.Groups = append(append([]string(nil), u.Groups...), GroupAuthenticated)
	return &c
}

func (g *Gateway) certUser(r *http.Request) *User {
	if !g.opts.ClientCertificates || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	cert := r.TLS.VerifiedChains[0][0]
	if cert.Subject.CommonName == "" {
		return nil
	}
	return withAuthenticated(&User{Name: cert.Subject.CommonName, Groups: cert.Subject.Organization})
}

// authConfigured reports whether any authentication method is on.
func (g *Gateway) authConfigured() bool {
	return g.opts.Tokens != nil || g.opts.ClientCertificates || g.opts.SignIn != nil
}

func (g *Gateway) anonymous(r *http.Request) (*User, *status.HTTPError) {
	anon := &User{Name: Anonymous, Groups: []string{GroupUnauthenticated}}
	if g.opts.AllowAnonymous {
		return anon, nil
	}
	if g.authConfigured() {
		return nil, unauthorized("Unauthorized", errors.New("no credentials"))
	}
	if isLoopback(r.RemoteAddr) {
		return anon, nil
	}
	return nil, unauthorized("Unauthorized", errors.New("anonymous requests are accepted only from loopback"))
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// takeProtocolToken finds a bearer token offered as a WebSocket
// subprotocol, checks it as the API server does (one token entry, valid
// unpadded base64url of UTF-8, at least one other subprotocol), and
// rewrites the remaining names into a single header line so the token is
// never negotiated, echoed or forwarded.
func takeProtocolToken(r *http.Request) (string, error) {
	if !protocol.IsWebSocketUpgrade(r) {
		return "", nil
	}
	lines := r.Header.Values(protocol.HeaderWebSocketProtocol)
	if len(lines) == 0 {
		return "", nil
	}
	var token string
	var found bool
	var rest []string
	for _, name := range protocol.SplitHeader(lines) {
		enc, ok := strings.CutPrefix(name, BearerProtocolPrefix)
		if !ok {
			rest = append(rest, name)
			continue
		}
		if found {
			return "", errors.New("multiple bearer token subprotocols")
		}
		found = true
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil || !utf8.Valid(b) || len(b) == 0 {
			return "", errors.New("invalid bearer token subprotocol")
		}
		token = string(b)
	}
	if !found {
		return "", nil
	}
	if len(rest) == 0 {
		return "", errors.New("missing additional subprotocol")
	}
	r.Header.Set(protocol.HeaderWebSocketProtocol, strings.Join(rest, ", "))
	return token, nil
}
