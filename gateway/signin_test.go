package gateway_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/porthole/porthole/gateway"
)

// cookieSignIn is a stand-in for gateway/oidc's sign-in: the cookie
// "session=alice" is alice, in group admins; its route answers 204. (The
// real sign-in against a real provider is interop/oidc's.)
type cookieSignIn struct{}

func (cookieSignIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (cookieSignIn) AuthenticateSession(r *http.Request) (*gateway.User, bool, error) {
	c, err := r.Cookie("session")
	if err != nil {
		return nil, false, nil
	}
	if c.Value != "alice" {
		return nil, false, errSession
	}
	return &gateway.User{Name: "alice", Groups: []string{"admins"}}, true, nil
}

var errSession = errors.New("unknown session")

// TestSessionCookie: the browser session counts only on requests that
// show they come from this origin's pages (the CSRF defence); a token
// still wins over it; the sign-in routes are served before authentication
// but behind the Origin check.
func TestSessionCookie(t *testing.T) {
	node := startNode(t)
	gw := secureGateway(t, node, &gateway.Options{SignIn: cookieSignIn{}})
	host := strings.TrimPrefix(gw, "http://")
	get := func(path, cookie string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, gw+path, nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ns := "/api/v1/namespaces"
	for _, tc := range []struct {
		name   string
		path   string
		cookie string
		hdr    map[string]string
		want   int
	}{
		{"same-origin fetch", ns, "alice", map[string]string{"Sec-Fetch-Site": "same-origin"}, 404}, // authorized; the stub upstream has no namespaces
		{"own Origin", ns, "alice", map[string]string{"Origin": "http://" + host}, 404},
		{"no browser headers", ns, "alice", nil, 401},
		{"cross-site", ns, "alice", map[string]string{"Sec-Fetch-Site": "cross-site"}, 401},
		{"same-site other origin", ns, "alice", map[string]string{"Sec-Fetch-Site": "same-site"}, 401},
		{"foreign Origin", ns, "alice", map[string]string{"Origin": "http://evil.example"}, 401},
		{"unknown session", ns, "mallory", map[string]string{"Sec-Fetch-Site": "same-origin"}, 401},
		{"token wins", ns, "mallory", map[string]string{"Sec-Fetch-Site": "same-origin", "Authorization": "Bearer reader-token"}, 403},
		{"sign-in route, no credentials", "/oidc/login", "", nil, 204},
		{"sign-in route, foreign Origin", "/oidc/logout", "", map[string]string{"Origin": "http://evil.example"}, 403},
	} {
		if got := get(tc.path, tc.cookie, tc.hdr); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestNoSignIn: without a sign-in the page's question is answered "none"
// (200 {}), and nothing else under the path is served unauthenticated.
func TestNoSignIn(t *testing.T) {
	node := startNode(t)
	gw := secureGateway(t, node, nil)
	resp, err := http.Get(gw + "/oidc/session")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "{}\n" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /oidc/session: got %d %q", resp.StatusCode, b)
	}
	resp, err = http.Get(gw + "/oidc/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /oidc/login without a sign-in: got %d, want 401", resp.StatusCode)
	}
}
