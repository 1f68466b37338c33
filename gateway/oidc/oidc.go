package oidc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"

	"github.com/porthole/porthole/gateway"
)

// Options configure an Authenticator, with the meaning of kube-apiserver's
// flags of the same names.
type Options struct {
	// IssuerURL is the provider's issuer (https; --oidc-issuer-url). Only
	// tokens whose iss is exactly this are considered.
	IssuerURL string
	// ClientID is the audience an ID token must name (--oidc-client-id).
	ClientID string
	// UsernameClaim names the user (default "sub").
	UsernameClaim string
	// UsernamePrefix is put before the username. Empty: the issuer URL and
	// "#" unless UsernameClaim is "email"; "-": none.
	UsernamePrefix string
	// GroupsClaim names the groups (a string or a list of strings); empty:
	// none.
	GroupsClaim  string
	GroupsPrefix string
	// RequiredClaims must be present with exactly these string values.
	RequiredClaims map[string]string
	// SigningAlgs are the accepted signature algorithms (default RS256).
	SigningAlgs []string
	// CAFile holds the PEM authorities that sign the provider's serving
	// certificate (default: the system's).
	CAFile string
	Logger *slog.Logger
}

// discoveryRetry is how long a failed discovery is remembered before the
// next token tries again, so a provider that is down is not asked once
// per request.
const discoveryRetry = 10 * time.Second

// maxTokenBytes bounds the token read before any verification.
const maxTokenBytes = 16 << 10

// Authenticator verifies ID tokens. It implements gateway.TokenAuthenticator
// and is safe for concurrent use. Discovery happens on first use (and again
// after a failure, at most every discoveryRetry), so the gateway starts
// while the provider is still coming up, as the API server does.
type Authenticator struct {
	opts   Options
	prefix string
	client *http.Client
	log    *slog.Logger

	flight   singleflight.Group
	mu       sync.Mutex // guards the fields below; never held across I/O
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	failedAt time.Time
	failure  error
}

// New checks opts and returns an Authenticator. It does no I/O but reading
// CAFile.
func New(opts *Options) (*Authenticator, error) {
	if opts == nil {
		return nil, errors.New("oidc: no options")
	}
	a := &Authenticator{opts: *opts, log: opts.Logger}
	o := &a.opts
	u, err := url.Parse(o.IssuerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: issuer URL %q must be an https URL without query or fragment", o.IssuerURL)
	}
	if o.ClientID == "" {
		return nil, errors.New("oidc: a client ID is required with an issuer URL")
	}
	if o.UsernameClaim == "" {
		o.UsernameClaim = "sub"
	}
	if len(o.SigningAlgs) == 0 {
		o.SigningAlgs = []string{gooidc.RS256}
	}
	for _, alg := range o.SigningAlgs {
		if !supportedAlg(alg) {
			return nil, fmt.Errorf("oidc: unsupported signing algorithm %q", alg)
		}
	}
	a.prefix = usernamePrefix(o.IssuerURL, o.UsernameClaim, o.UsernamePrefix)
	if a.client, err = httpClient(o.CAFile); err != nil {
		return nil, err
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// usernamePrefix is kube-apiserver's rule for --oidc-username-prefix.
func usernamePrefix(issuer, claim, prefix string) string {
	switch {
	case prefix == "-":
		return ""
	case prefix != "":
		return prefix
	case claim == "email":
		return ""
	default:
		return issuer + "#"
	}
}

func supportedAlg(alg string) bool {
	switch alg {
	case gooidc.RS256, gooidc.RS384, gooidc.RS512, gooidc.ES256, gooidc.ES384, gooidc.ES512,
		gooidc.PS256, gooidc.PS384, gooidc.PS512, gooidc.EdDSA:
		return true
	}
	return false
}

// httpClient reaches the provider, trusting caFile's authorities when set.
func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("oidc: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("oidc: CA file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// discover returns the provider and the verifier, running discovery if it
// has not succeeded yet. Concurrent callers share one discovery; a caller
// whose ctx ends stops waiting for it.
func (a *Authenticator) discover(ctx context.Context) (*gooidc.Provider, *gooidc.IDTokenVerifier, error) {
	a.mu.Lock()
	p, v, failure, failedAt := a.provider, a.verifier, a.failure, a.failedAt
	a.mu.Unlock()
	if v != nil {
		return p, v, nil
	}
	if failure != nil && time.Since(failedAt) < discoveryRetry {
		return nil, nil, failure
	}
	select {
	case res := <-a.flight.DoChan("discover", a.runDiscovery):
		if res.Err != nil {
			return nil, nil, res.Err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.provider, a.verifier, nil
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("oidc: discovery of %s: %w", a.opts.IssuerURL, ctx.Err())
	}
}

// runDiscovery fetches the provider's configuration for every waiting
// caller. It is bounded by the HTTP client's timeout, not by one request,
// and keeps the result (or the failure, for discoveryRetry).
func (a *Authenticator) runDiscovery() (any, error) {
	p, err := gooidc.NewProvider(gooidc.ClientContext(context.Background(), a.client), a.opts.IssuerURL)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failedAt, a.failure = time.Now(), fmt.Errorf("oidc: discovery of %s: %w", a.opts.IssuerURL, err)
		a.log.Warn("OpenID Connect discovery failed", "issuer", a.opts.IssuerURL, "err", err)
		return nil, a.failure
	}
	// The key set outlives every request: it fetches keys again when a
	// token names a new one.
	keysCtx := gooidc.ClientContext(context.Background(), a.client)
	a.provider = p
	a.verifier = p.VerifierContext(keysCtx, &gooidc.Config{ClientID: a.opts.ClientID, SupportedSigningAlgs: a.opts.SigningAlgs})
	a.failure = nil
	return nil, nil
}

// AuthenticateToken verifies token as an ID token of the issuer. A token
// that is not a JWT or names another issuer is not this authenticator's
// (ok false, no error), so a token file or another issuer may own it.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*gateway.User, bool, error) {
	if !a.ownsToken(token) {
		return nil, false, nil
	}
	u, _, err := a.verify(ctx, token)
	if err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// verify checks token and maps its claims; it returns the parsed token too
// (the sign-in checks its nonce).
func (a *Authenticator) verify(ctx context.Context, token string) (*gateway.User, *gooidc.IDToken, error) {
	_, v, err := a.discover(ctx)
	if err != nil {
		return nil, nil, err
	}
	idt, err := v.Verify(ctx, token)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: verify token: %w", err)
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return nil, nil, fmt.Errorf("oidc: parse claims: %w", err)
	}
	u, err := a.user(c)
	if err != nil {
		return nil, nil, err
	}
	return u, idt, nil
}

// ownsToken reports whether token is a JWT whose (unverified) iss is the
// issuer, as the API server's hasCorrectIssuer.
func (a *Authenticator) ownsToken(token string) bool {
	if len(token) > maxTokenBytes {
		return false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return false
	}
	return c.Issuer == a.opts.IssuerURL
}
