package oidc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// browser is an HTTP client that behaves as a browser toward the
// provider and the servers under test: a cookie jar, the test authority
// trusted, redirects followed except to stopAt (a redirect URI nobody
// serves, whose code the caller takes). dialTo, when set, sends every
// connection there (the impostor provider answering for the real one).
func browser(caPEM []byte, dialTo, stopAt string) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: false}
	if dialTo != "" {
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, dialTo)
		}
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if stopAt != "" && strings.HasPrefix(req.URL.String(), stopAt) {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		}}
}

var loginID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// submitLogin reads the provider's login page in resp and submits the
// form as user with password, returning the answer (redirects followed as
// the client does).
func submitLogin(hc *http.Client, resp *http.Response, user, password string) (*http.Response, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login/username" {
		return nil, fmt.Errorf("expected the provider's login page, got %s %s: %.300s", resp.Request.URL, resp.Status, body)
	}
	m := loginID.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("login page without the auth request id: %.300s", body)
	}
	form := url.Values{"id": {string(m[1])}, "username": {user}, "password": {password}}
	action := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	return hc.PostForm(action.String(), form)
}

// idToken signs user in at the provider (authorization code flow with
// PKCE, its login form submitted) as client and returns the ID token the
// provider issues. dialTo sends the flow to another provider answering
// for p's issuer.
func idToken(ctx context.Context, p *provider, caPEM []byte, dialTo, client, secret, user, password string) (string, error) {
	cfg := &oauth2.Config{ClientID: client, ClientSecret: secret, RedirectURL: testRedirect,
		Scopes:   []string{"openid", "email", groupsScope},
		Endpoint: oauth2.Endpoint{AuthURL: p.Issuer + "/auth", TokenURL: p.Issuer + "/oauth/token"}}
	hc := browser(caPEM, dialTo, testRedirect)
	verifier := oauth2.GenerateVerifier()
	state := oauth2.GenerateVerifier()
	resp, err := hc.Get(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-"+state)))
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	resp, err = submitLogin(hc, resp, user, password)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), testRedirect) {
		return "", fmt.Errorf("login ended at %s %q, not the redirect URI", resp.Status, resp.Header.Get("Location"))
	}
	if got := loc.Query().Get("state"); got != state {
		return "", fmt.Errorf("state %q, want %q", got, state)
	}
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", errors.New("token response without id_token")
	}
	return raw, nil
}
