package oidc

import (
	"bytes"
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
