package oidc

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSealer(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	v := s.seal(SessionCookie, []byte("id token"))
	if got, err := s.open(SessionCookie, v); err != nil || string(got) != "id token" {
		t.Fatalf("open: got %q, %v", got, err)
	}
	if _, err := s.open(loginCookie, v); err == nil {
		t.Fatal("a session cookie opened as the login cookie")
	}
	other, _ := newSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.open(SessionCookie, v); err == nil {
		t.Fatal("another key opened the cookie")
	}
	for _, bad := range []string{"", "!!", v[:len(v)-1], v[:10], strings.ToUpper(v)} {
		if _, err := s.open(SessionCookie, bad); err == nil {
			t.Errorf("open(%q) succeeded", bad)
		}
	}
	if _, err := newSealer(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
	if a, b := s.seal("n", []byte("x")), s.seal("n", []byte("x")); a == b {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
}

func FuzzOpen(f *testing.F) {
	s, _ := newSealer(bytes.Repeat([]byte{7}, 32))
	f.Add(s.seal(SessionCookie, []byte(`{"t":"x"}`)))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		s.open(SessionCookie, v)
	})
}

// TestLanding: a sign-in ends on the web terminal, never elsewhere.
func TestLanding(t *testing.T) {
	for then, want := range map[string]string{
		"":                         "/ui/",
		"/ui/":                     "/ui/",
		"/ui/?ns=x":                "/ui/?ns=x",
		"https://evil.example/ui/": "/ui/",
		"//evil.example/ui/":       "/ui/",
		"/ui//evil.example":        "/ui/",
		"/ui/\\evil":               "/ui/",
		"/api/v1/pods":             "/ui/",
		"/ui/\r\nSet-Cookie: x":    "/ui/",
	} {
		if got := landing(then); got != want {
			t.Errorf("landing(%q): got %q, want %q", then, got, want)
		}
	}
}

func TestNewSignInRefuses(t *testing.T) {
	a, err := New(&Options{IssuerURL: issuer, ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts SignInOptions
		want string
	}{
		{SignInOptions{RedirectURL: "https://gw.example/callback"}, "must be an http(s) URL ending in /oidc/callback"},
		{SignInOptions{RedirectURL: "javascript:alert(1)"}, "must be an http(s) URL"},
		{SignInOptions{SessionKey: []byte("short")}, "shorter than 32"},
	} {
		if _, err := NewSignIn(a, &tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.opts, err, tc.want)
		}
	}
	if _, err := NewSignIn(a, &SignInOptions{RedirectURL: "https://gw.example/oidc/callback"}); err != nil {
		t.Fatal(err)
	}
}

// TestSignOutCookie: sign-out clears the session cookie, Secure when the
// gateway is reached over https even through a TLS-terminating proxy, and
// only for requests that show they come from the page.
func TestSignOutCookie(t *testing.T) {
	a, err := New(&Options{IssuerURL: issuer, ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		redirect   string
		hdr        map[string]string
		wantCode   int
		wantSecure bool
	}{
		{"", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther, false},
		{"https://gw.example/oidc/callback", map[string]string{"Origin": "https://gw.example"}, http.StatusSeeOther, true},
		{"", nil, http.StatusForbidden, false},
		{"", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, false},
	} {
		s, err := NewSignIn(a, &SignInOptions{RedirectURL: tc.redirect})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "http://gw.example/oidc/logout", nil)
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		cookies := rec.Result().Cookies()
		if rec.Code != tc.wantCode {
			t.Fatalf("%+v: got %d, want %d", tc, rec.Code, tc.wantCode)
		}
		if tc.wantCode != http.StatusSeeOther {
			if len(cookies) != 0 {
				t.Fatalf("%+v: a refused sign-out set %v", tc, cookies)
			}
			continue
		}
		if len(cookies) != 1 || cookies[0].Name != SessionCookie || cookies[0].MaxAge != -1 || !cookies[0].HttpOnly || cookies[0].Secure != tc.wantSecure {
			t.Fatalf("%+v: got cookies %v", tc, cookies)
		}
		if loc := rec.Header().Get("Location"); loc != "/ui/" {
			t.Fatalf("%+v: Location %q", tc, loc)
		}
	}
}
