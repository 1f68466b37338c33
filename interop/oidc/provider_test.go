package oidc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// idpUser is a user of the test provider with the groups it asserts.
type idpUser struct {
	storage.User
	Groups []string
}

// users of the test provider: alice is an admin, bob a viewer, carol an
// admin whose email the provider has not verified.
var users = []idpUser{
	{User: storage.User{ID: "alice-id", Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true,
		PreferredLanguage: language.English}, Groups: []string{"admins"}},
	{User: storage.User{ID: "bob-id", Username: "bob", Password: "bob-pw", Email: "bob@example.com", EmailVerified: true,
		PreferredLanguage: language.English}, Groups: []string{"viewers"}},
	{User: storage.User{ID: "carol-id", Username: "carol", Password: "carol-pw", Email: "carol@example.com", EmailVerified: false,
		PreferredLanguage: language.English}, Groups: []string{"admins"}},
}

// Client IDs registered at the provider: the gateway's, and another
// application's (its tokens are for someone else).
const (
	clientID     = "porthole"
	clientSecret = "porthole-secret"
	otherClient  = "other-app"
	// testRedirect is where the tests' own logins are sent back; nothing
	// serves it, the test stops at the redirect and takes the code.
	testRedirect = "http://127.0.0.1/test-callback"
	groupsScope  = "groups"
)

// userStore implements storage.UserStore over users.
type userStore struct{}

func (userStore) GetUserByID(id string) *storage.User {
	for i := range users {
		if users[i].ID == id {
			u := users[i].User
			return &u
		}
	}
	return nil
}

func (userStore) GetUserByUsername(name string) *storage.User {
	for i := range users {
		if users[i].Username == name {
			u := users[i].User
			return &u
		}
	}
	return nil
}

func (userStore) ExampleClientID() string { return "service" }

// idpStorage is the example server's in-memory storage with our clients
// and a groups claim for the "groups" scope.
type idpStorage struct {
	*storage.Storage
	clients map[string]*idpClient
}

func (s *idpStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return c, nil
}

func (s *idpStorage) SetUserinfoFromScopes(ctx context.Context, info *zoidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, info, userID, clientID, scopes); err != nil {
		return err
	}
	for _, u := range users {
		if u.ID != userID {
			continue
		}
		if slices.Contains(scopes, groupsScope) {
			info.AppendClaims("groups", u.Groups)
		}
		// zitadel's UserInfo omits a false email_verified; providers such
		// as Google and Keycloak send it, and the API server refuses it.
		if slices.Contains(scopes, zoidc.ScopeEmail) && !u.EmailVerified {
			info.AppendClaims("email_verified", false)
		}
	}
	return nil
}

// idpClient is the example's web client (confidential, code flow) with
// redirect URIs added as the servers under test start, the groups scope,
// the profile and email claims in the ID token, and an ID token lifetime
// the tests set (negative: tokens born expired).
type idpClient struct {
	*storage.Client
	mu        sync.Mutex
	redirects []string
	lifetime  atomic.Int64 // time.Duration
}

func newClient(id, secret string) *idpClient {
	c := &idpClient{Client: storage.WebClient(id, secret, testRedirect), redirects: []string{testRedirect}}
	c.lifetime.Store(int64(time.Hour))
	return c
}

func (c *idpClient) RedirectURIs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.redirects)
}

func (c *idpClient) addRedirect(u string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.redirects = append(c.redirects, u)
}

func (c *idpClient) IDTokenLifetime() time.Duration       { return time.Duration(c.lifetime.Load()) }
func (c *idpClient) IsScopeAllowed(scope string) bool     { return scope == groupsScope }
func (c *idpClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *idpClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// quiet replaces the example server's request log (it sets it as the
// process's default logger).
var quiet = slog.New(slog.DiscardHandler)

// provider is a running OpenID provider.
type provider struct {
	Issuer  string
	Addr    string
	storage *idpStorage
	srv     *http.Server
	done    chan error
}

// startProvider serves an OpenID provider for issuer on ln with TLS cert;
// issuer may name another listener's address (a provider that signs
// tokens in the name of another one, with its own key).
func startProvider(ln net.Listener, issuer string, cert tls.Certificate) *provider {
	base := map[string]*storage.Client{}
	st := &idpStorage{clients: map[string]*idpClient{}}
	for _, c := range []*idpClient{newClient(clientID, clientSecret), newClient(otherClient, "other-secret")} {
		st.clients[c.GetID()] = c
		base[c.GetID()] = c.Client
	}
	st.Storage = storage.NewStorageWithClients(userStore{}, base)
	router := exampleop.SetupServer(issuer, st, quiet, false)
	p := &provider{Issuer: issuer, Addr: ln.Addr().String(), storage: st, done: make(chan error, 1),
		srv: &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
			ErrorLog:  slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}}
	go p.serve(ln)
	return p
}

func (p *provider) serve(ln net.Listener) { p.done <- p.srv.ServeTLS(ln, "", "") }

func (p *provider) client(id string) *idpClient { return p.storage.clients[id] }

func (p *provider) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if serr := <-p.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("provider: %w", serr))
	}
	return err
}
