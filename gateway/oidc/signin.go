package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/porthole/porthole/gateway"
)

// Cookie names and the routes under gateway.SignInPath.
const (
	SessionCookie = "porthole_session"
	loginCookie   = "porthole_oidc_login"
	loginRoute    = gateway.SignInPath + "login"
	callbackRoute = gateway.SignInPath + "callback"
	logoutRoute   = gateway.SignInPath + "logout"
	sessionRoute  = gateway.SignInPath + "session"
	// defaultLanding is where a sign-in ends: the web terminal.
	defaultLanding = "/ui/"
	// loginTTL bounds the time between the redirect to the provider and
	// the callback.
	loginTTL = 10 * time.Minute
	// DefaultMaxSession bounds a session whatever its ID token says.
	DefaultMaxSession = 12 * time.Hour
	// maxCookieBytes keeps a sealed session within what browsers store.
	maxCookieBytes = 4000
)

// SignInOptions configure SignIn.
type SignInOptions struct {
	// ClientSecret authenticates the gateway at the token endpoint; empty:
	// a public client, protected by PKCE alone.
	ClientSecret string
	// RedirectURL is the callback registered at the provider; empty: the
	// request's own scheme and Host with gateway.SignInPath+"callback"
	// (the Host has passed the gateway's allow-list).
	RedirectURL string
	// Scopes are asked for besides openid (email, groups, ... as the
	// provider needs to put the configured claims in the ID token).
	Scopes []string
	// SessionKey seals the cookies (at least 32 bytes). nil: a random key,
	// so sessions end with the process; replicas behind one name must share
	// one.
	SessionKey []byte
	// MaxSession bounds a session (default DefaultMaxSession); it never
	// outlives its ID token.
	MaxSession time.Duration
}

// SignIn is the gateway's browser sign-in, the relying party of the
// authorization code flow with PKCE (RFC 7636), state and nonce. Its
// session cookie seals the ID token, verified again on every request as a
// bearer token would be; nothing is kept on the server. It implements
// gateway.BrowserSignIn and is safe for concurrent use.
type SignIn struct {
	auth  *Authenticator
	opts  SignInOptions
	seal  *sealer
	now   func() time.Time
	scope []string
}

// NewSignIn returns the sign-in for the issuer and client of a.
func NewSignIn(a *Authenticator, opts *SignInOptions) (*SignIn, error) {
	s := &SignIn{auth: a, now: time.Now}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MaxSession <= 0 {
		s.opts.MaxSession = DefaultMaxSession
	}
	if s.opts.RedirectURL != "" {
		u, err := url.Parse(s.opts.RedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != callbackRoute {
			return nil, fmt.Errorf("oidc: redirect URL %q must be an http(s) URL ending in %s", s.opts.RedirectURL, callbackRoute)
		}
	}
	var err error
	if s.seal, err = newSealer(s.opts.SessionKey); err != nil {
		return nil, err
	}
	s.scope = append([]string{gooidc.ScopeOpenID}, s.opts.Scopes...)
	return s, nil
}

// loginState is what the login cookie carries to the callback.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Redirect string `json:"r"`
	Then     string `json:"t"`
	Expires  int64  `json:"e"`
}

// session is what the session cookie carries.
type session struct {
	IDToken string `json:"t"`
}

// ServeHTTP serves the sign-in routes.
func (s *SignIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == loginRoute && r.Method == http.MethodGet:
		s.login(w, r)
	case r.URL.Path == callbackRoute && r.Method == http.MethodGet:
		s.callback(w, r)
	case r.URL.Path == logoutRoute && r.Method == http.MethodPost:
		s.logout(w, r)
	case r.URL.Path == sessionRoute && r.Method == http.MethodGet:
		s.whoami(w, r)
	case r.URL.Path == loginRoute || r.URL.Path == callbackRoute || r.URL.Path == logoutRoute || r.URL.Path == sessionRoute:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

// config is the OAuth 2.0 client toward the discovered provider.
func (s *SignIn) config(ctx context.Context, redirect string) (*oauth2.Config, error) {
	p, _, err := s.auth.discover(ctx)
	if err != nil {
		return nil, err
	}
	ep := p.Endpoint()
	if s.opts.ClientSecret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams // a public client sends only its ID
	}
	return &oauth2.Config{ClientID: s.auth.opts.ClientID, ClientSecret: s.opts.ClientSecret,
		Endpoint: ep, RedirectURL: redirect, Scopes: s.scope}, nil
}

// login sends the browser to the provider, remembering state, nonce and
// the PKCE verifier in a sealed cookie that only the callback receives.
func (s *SignIn) login(w http.ResponseWriter, r *http.Request) {
	st := loginState{State: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier(),
		Redirect: s.redirectURL(r), Then: landing(r.URL.Query().Get("then")), Expires: s.now().Add(loginTTL).Unix()}
	cfg, err := s.config(r.Context(), st.Redirect)
	if err != nil {
		s.auth.log.Warn("sign-in: provider unavailable", "err", err)
		http.Error(w, "the identity provider is unavailable", http.StatusServiceUnavailable)
		return
	}
	b, _ := json.Marshal(st)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: s.seal.seal(loginCookie, b), Path: gateway.SignInPath,
		MaxAge: int(loginTTL / time.Second), HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, cfg.AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier), gooidc.Nonce(st.Nonce)), http.StatusFound)
}

// redirectURL is the configured callback, or this request's own.
func (s *SignIn) redirectURL(r *http.Request) string {
	if s.opts.RedirectURL != "" {
		return s.opts.RedirectURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + callbackRoute
}

// landing is then when it is a path of the web terminal, else the
// terminal itself: a sign-in never ends on another site.
func landing(then string) string {
	if strings.HasPrefix(then, defaultLanding) && !strings.ContainsAny(then, "\\\r\n") && !strings.Contains(then, "//") &&
		!strings.Contains(then, "..") {
		return then
	}
	return defaultLanding
}

// callback checks the provider's answer against the login cookie,
// exchanges the code (with the PKCE verifier), verifies the ID token and
// its nonce, and starts the session.
func (s *SignIn) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st, err := s.loginState(r)
	s.clearCookie(w, r, loginCookie, gateway.SignInPath)
	if err != nil {
		http.Error(w, "sign-in failed: "+err.Error()+"; start again at "+loginRoute, http.StatusBadRequest)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		http.Error(w, "sign-in failed: the state does not match this browser's sign-in", http.StatusBadRequest)
		return
	}
	if e := q.Get("error"); e != "" {
		http.Error(w, "the identity provider refused the sign-in: "+e+" "+q.Get("error_description"), http.StatusUnauthorized)
		return
	}
	cfg, err := s.config(r.Context(), st.Redirect)
	if err != nil {
		http.Error(w, "the identity provider is unavailable", http.StatusServiceUnavailable)
		return
	}
	tok, err := cfg.Exchange(gooidc.ClientContext(r.Context(), s.auth.client), q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		s.auth.log.Info("sign-in: code exchange failed", "err", err)
		http.Error(w, "sign-in failed: the identity provider did not accept the code", http.StatusUnauthorized)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	u, idt, err := s.auth.verify(r.Context(), raw)
	if err == nil && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		err = errors.New("oidc: nonce does not match")
	}
	if err != nil {
		s.auth.log.Info("sign-in: ID token refused", "err", err)
		http.Error(w, "sign-in failed: the ID token was refused", http.StatusUnauthorized)
		return
	}
	b, _ := json.Marshal(session{IDToken: raw})
	value := s.seal.seal(SessionCookie, b)
	if len(value) > maxCookieBytes {
		http.Error(w, "sign-in failed: the ID token is too large for a session cookie", http.StatusInternalServerError)
		return
	}
	life := min(idt.Expiry.Sub(s.now()), s.opts.MaxSession)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: value, Path: "/", MaxAge: max(int(life/time.Second), 1),
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	s.auth.log.Info("signed in", "user", u.Name)
	http.Redirect(w, r, st.Then, http.StatusSeeOther)
}

func (s *SignIn) loginState(r *http.Request) (*loginState, error) {
	c, err := r.Cookie(loginCookie)
	if err != nil {
		return nil, errors.New("no sign-in in progress in this browser")
	}
	b, err := s.seal.open(loginCookie, c.Value)
	if err != nil {
		return nil, err
	}
	var st loginState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, errSealed
	}
	if s.now().Unix() > st.Expires {
		return nil, errors.New("the sign-in took too long")
	}
	return &st, nil
}

// AuthenticateSession implements gateway.BrowserSignIn: the sealed ID
// token is verified as a bearer token is, so an expired one ends the
// session.
func (s *SignIn) AuthenticateSession(r *http.Request) (*gateway.User, bool, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, false, nil
	}
	b, err := s.seal.open(SessionCookie, c.Value)
	if err != nil {
		return nil, false, err
	}
	var sess session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, false, errSealed
	}
	u, _, err := s.auth.verify(r.Context(), sess.IDToken)
	if err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// logout ends the browser's session. The gateway has refused a foreign
// Origin; a request without one must say it is same-origin, so no other
// site can sign the user out.
func (s *SignIn) logout(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") == "" && !strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "same-origin") {
		http.Error(w, "sign-out must come from this site's page", http.StatusForbidden)
		return
	}
	s.clearCookie(w, r, SessionCookie, "/")
	http.Redirect(w, r, defaultLanding, http.StatusSeeOther)
}

// whoami tells the page that sign-in is available and who, if anyone, the
// session cookie names.
func (s *SignIn) whoami(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Login  string `json:"login"`
		Logout string `json:"logout"`
		User   string `json:"user,omitempty"`
	}{Login: loginRoute, Logout: logoutRoute}
	if u, ok, _ := s.AuthenticateSession(r); ok {
		out.User = u.Name
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (s *SignIn) clearCookie(w http.ResponseWriter, r *http.Request, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode})
}

// secure reports whether the browser reaches the gateway over TLS: this
// request did, or the configured callback is https (a TLS-terminating
// proxy in front, --insecure-http-auth).
func (s *SignIn) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.opts.RedirectURL, "https://")
}
