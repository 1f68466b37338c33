package oidc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// signInBrowser is a browser toward tg and the provider, recording the
// cookies each redirect set.
type signInBrowser struct {
	hc      *http.Client
	tg      target
	setByMe map[string]*http.Cookie // by name, from tg's responses
}

func newSignInBrowser(tg target) *signInBrowser {
	b := &signInBrowser{tg: tg, setByMe: map[string]*http.Cookie{}}
	b.hc = browser(append(append([]byte{}, env.ca.CertPEM...), tg.CAPEM...), "", "")
	check := b.hc.CheckRedirect
	b.hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		b.record(req.Response)
		return check(req, via)
	}
	return b
}

func (b *signInBrowser) record(resp *http.Response) {
	if resp == nil || !strings.HasPrefix(resp.Request.URL.String(), b.tg.URL) {
		return
	}
	for _, c := range resp.Cookies() {
		b.setByMe[c.Name] = c
	}
}

// do sends a request to tg with the jar's cookies and the given headers.
func (b *signInBrowser) do(t *testing.T, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, b.tg.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b.record(resp)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *signInBrowser) status(t *testing.T, method, path string, hdr map[string]string) int {
	t.Helper()
	resp := b.do(t, method, path, hdr)
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (b *signInBrowser) whoami(t *testing.T) string {
	t.Helper()
	resp := b.do(t, http.MethodGet, "/oidc/session", map[string]string{"Sec-Fetch-Site": "same-origin"})
	var out struct{ Login, Logout, User string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /oidc/session: %d %v", resp.StatusCode, err)
	}
	if out.Login != "/oidc/login" || out.Logout != "/oidc/logout" {
		t.Fatalf("GET /oidc/session: got %+v", out)
	}
	return out.User
}

// signIn goes through the web terminal's sign-in as u: the gateway sends
// the browser to the provider, the provider's login form is submitted,
// the provider sends the browser back with a code, and the gateway ends on
// the terminal's page with a session cookie.
func (b *signInBrowser) signIn(t *testing.T, u idpUser) {
	t.Helper()
	resp := b.do(t, http.MethodGet, "/oidc/login?then=/ui/", nil)
	resp, err := submitLogin(b.hc, resp, u.Username, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != b.tg.URL+"/ui/" {
		t.Fatalf("sign-in ended at %s %s: %.300s", resp.Request.URL, resp.Status, body)
	}
}

const sameOrigin = "same-origin"

// TestBrowserSignIn drives the web terminal's sign-in at the HTTP level:
// cookie attributes, the session opening the API and an exec WebSocket
// only for this origin's pages, and sign-out.
func TestBrowserSignIn(t *testing.T) {
	alice := user("alice")
	pods := "/api/v1/namespaces/default/pods"
	for _, tg := range env.targets {
		t.Run(tg.Name, func(t *testing.T) {
			b := newSignInBrowser(tg)
			if who := b.whoami(t); who != "" {
				t.Fatalf("before sign-in the session names %q", who)
			}
			if code := b.status(t, http.MethodGet, pods, map[string]string{"Sec-Fetch-Site": sameOrigin}); code != http.StatusUnauthorized {
				t.Fatalf("before sign-in: GET pods got %d, want 401", code)
			}
			b.signIn(t, alice)
			login, sess := b.setByMe["porthole_oidc_login"], b.setByMe["porthole_session"]
			if login == nil || sess == nil {
				t.Fatalf("cookies set: %v", b.setByMe)
			}
			if !sess.HttpOnly || !sess.Secure || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || sess.MaxAge <= 0 || sess.MaxAge > 3600 {
				t.Fatalf("session cookie %s: want HttpOnly, Secure, SameSite=Strict, Path=/, Max-Age within the token's hour", sess)
			}
			if login.MaxAge != -1 {
				t.Fatalf("login cookie not cleared by the callback: %s", login)
			}
			if strings.Contains(sess.Value, ".") {
				t.Fatalf("session cookie looks like a bare JWT, not sealed: %.40s", sess.Value)
			}
			if who := b.whoami(t); who != tg.UserName(alice) {
				t.Fatalf("session names %q, want %q", who, tg.UserName(alice))
			}
			// The cookie authenticates this origin's fetches only.
			for _, tc := range []struct {
				name string
				hdr  map[string]string
				want int
			}{
				{"same-origin fetch", map[string]string{"Sec-Fetch-Site": sameOrigin}, http.StatusOK},
				{"own Origin", map[string]string{"Origin": tg.URL}, http.StatusOK},
				{"cross-site navigation", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusUnauthorized},
				{"no browser headers", nil, http.StatusUnauthorized},
				{"foreign Origin", map[string]string{"Origin": "https://evil.example"}, http.StatusUnauthorized},
			} {
				if code := b.status(t, http.MethodGet, pods, tc.hdr); code != tc.want {
					t.Errorf("%s: GET pods got %d, want %d", tc.name, code, tc.want)
				}
			}
			// The exec WebSocket rides on the cookie from this origin; a
			// page elsewhere cannot open it with the user's cookie.
			if out, code := cookieExec(t, b, tg.URL); out != "oidc:ok" || code != 0 {
				t.Errorf("exec over the session: got %q, handshake %d", out, code)
			}
			if out, code := cookieExec(t, b, "https://evil.example"); code != http.StatusUnauthorized {
				t.Errorf("exec from a foreign origin: got %q, handshake %d, want 401 (the cookie does not count from there)", out, code)
			}
			// A cookie altered by a byte is refused, not trusted.
			forged := *sess
			forged.Value = sess.Value[:len(sess.Value)-2] + "AA"
			if code := statusWithCookie(t, tg, pods, &forged); code != http.StatusUnauthorized {
				t.Errorf("altered session cookie: GET pods got %d, want 401", code)
			}
			// Sign-out: only from this site's page.
			if code := b.status(t, http.MethodPost, "/oidc/logout", nil); code != http.StatusForbidden {
				t.Errorf("logout without Origin: got %d, want 403", code)
			}
			if code := b.status(t, http.MethodPost, "/oidc/logout", map[string]string{"Origin": "https://evil.example"}); code != http.StatusForbidden {
				t.Errorf("logout from a foreign origin: got %d, want 403", code)
			}
			if code := b.status(t, http.MethodGet, pods, map[string]string{"Sec-Fetch-Site": sameOrigin}); code != http.StatusOK {
				t.Fatalf("refused sign-outs ended the session: GET pods %d", code)
			}
			if code := b.status(t, http.MethodPost, "/oidc/logout", map[string]string{"Origin": tg.URL}); code != http.StatusOK {
				t.Errorf("logout: got %d, want 200 after the redirect to /ui/", code)
			}
			if c := b.setByMe["porthole_session"]; c == nil || c.MaxAge != -1 {
				t.Errorf("logout left the session cookie: %v", c)
			}
			if code := b.status(t, http.MethodGet, pods, map[string]string{"Sec-Fetch-Site": sameOrigin}); code != http.StatusUnauthorized {
				t.Errorf("after sign-out: GET pods got %d, want 401", code)
			}
		})
	}
}

// TestSignInCallbackRefusals: a callback that is not the end of this
// browser's own sign-in is refused and starts no session.
func TestSignInCallbackRefusals(t *testing.T) {
	tg := env.targets[0]
	// No sign-in in progress in this browser (a login CSRF: someone else's
	// code and state).
	b := newSignInBrowser(tg)
	if code := b.status(t, http.MethodGet, "/oidc/callback?code=c&state=s", nil); code != http.StatusBadRequest {
		t.Errorf("callback without a sign-in: got %d, want 400", code)
	}
	// A sign-in in progress, answered with another state.
	resp := b.do(t, http.MethodGet, "/oidc/login", nil)
	io.Copy(io.Discard, resp.Body)
	if resp.Request.URL.Path != "/login/username" {
		t.Fatalf("login did not reach the provider's form: %s", resp.Request.URL)
	}
	if code := b.status(t, http.MethodGet, "/oidc/callback?code=c&state=other", nil); code != http.StatusBadRequest {
		t.Errorf("callback with another state: got %d, want 400", code)
	}
	if who := b.whoami(t); who != "" {
		t.Errorf("a refused callback opened a session for %q", who)
	}
	// The provider is asked with the gateway's state but another nonce, or
	// another PKCE challenge (what an attacker who swapped the
	// authorization request would get): the first ID token is refused
	// for its nonce, the second code for its verifier.
	for _, tc := range []struct{ param, want string }{
		{"nonce", "the ID token was refused"},
		{"code_challenge", "the identity provider did not accept the code"},
	} {
		b := newSignInBrowser(tg)
		follow := b.hc.CheckRedirect
		b.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp := b.do(t, http.MethodGet, "/oidc/login", nil)
		authz, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound || authz.Query().Get(tc.param) == "" {
			t.Fatalf("login: %s %q", resp.Status, resp.Header.Get("Location"))
		}
		q := authz.Query()
		q.Set(tc.param, "swapped-"+strings.Repeat("x", 43))
		authz.RawQuery = q.Encode()
		b.hc.CheckRedirect = follow
		resp, err = b.hc.Get(authz.String())
		if err != nil {
			t.Fatal(err)
		}
		resp, err = submitLogin(b.hc, resp, "alice", "alice-pw")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), tc.want) || resp.Request.URL.Path != "/oidc/callback" {
			t.Errorf("swapped %s: ended at %s %s %.200q, want 401 %q at the callback", tc.param, resp.Request.URL.Path, resp.Status, body, tc.want)
		}
		if who := b.whoami(t); who != "" {
			t.Errorf("swapped %s opened a session for %q", tc.param, who)
		}
	}
	// A then= elsewhere lands on the terminal.
	b = newSignInBrowser(tg)
	resp = b.do(t, http.MethodGet, "/oidc/login?then=//evil.example/", nil)
	resp, err := submitLogin(b.hc, resp, "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.String() != tg.URL+"/ui/" {
		t.Errorf("then=//evil.example/ ended at %s, want %s/ui/", resp.Request.URL, tg.URL)
	}
}

func statusWithCookie(t *testing.T, tg target, path string, c *http.Cookie) int {
	t.Helper()
	hc := browser(tg.CAPEM, "", "")
	req, _ := http.NewRequest(http.MethodGet, tg.URL+path, nil)
	req.Header.Set("Sec-Fetch-Site", sameOrigin)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// cookieExec opens exec over WebSocket v5 as the web terminal does, with
// the browser's cookies and origin, and returns stdout and the handshake's
// status (0 when it upgraded and the command succeeded).
func cookieExec(t *testing.T, b *signInBrowser, origin string) (string, int) {
	t.Helper()
	u, _ := url.Parse(b.tg.URL)
	q := url.Values{"command": {"sh", "-c", `printf 'oidc:%s' ok`}, "stdout": {"true"}, "container": {"main"}}
	wsURL := "wss://" + u.Host + "/api/v1/namespaces/default/pods/exec/exec?" + q.Encode()
	d := websocket.Dialer{TLSClientConfig: b.hc.Transport.(*http.Transport).TLSClientConfig, Subprotocols: []string{"v5.channel.k8s.io"},
		Jar: b.hc.Jar, HandshakeTimeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, resp, err := d.DialContext(ctx, wsURL, http.Header{"Origin": {origin}})
	if err != nil {
		if resp != nil {
			return "", resp.StatusCode
		}
		t.Fatalf("dial exec: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	var out strings.Builder
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("exec: read: %v (stdout so far %q)", err, out.String())
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case 1:
			out.Write(msg[1:])
		case 3:
			var st struct{ Status string }
			json.Unmarshal(msg[1:], &st)
			if st.Status != "Success" {
				t.Fatalf("exec status %s", msg[1:])
			}
			return out.String(), 0
		}
	}
}
