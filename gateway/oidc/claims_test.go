package oidc

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const issuer = "https://idp.example"

func mustClaims(t *testing.T, js string) claims {
	t.Helper()
	var c claims
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUser holds the claim mapping to kube-apiserver's rules for its
// --oidc-* flags; the tokens themselves come from a real provider in
// interop/oidc.
func TestUser(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		claims     string
		wantName   string
		wantGroups []string
		wantErr    string
	}{
		{name: "sub gets the issuer prefix", opts: Options{}, claims: `{"sub":"id1"}`, wantName: issuer + "#id1"},
		{name: "email gets none", opts: Options{UsernameClaim: "email"}, claims: `{"email":"a@b.c","email_verified":true}`, wantName: "a@b.c"},
		{name: "email without email_verified", opts: Options{UsernameClaim: "email"}, claims: `{"email":"a@b.c"}`, wantName: "a@b.c"},
		{name: "email not verified", opts: Options{UsernameClaim: "email"}, claims: `{"email":"a@b.c","email_verified":false}`, wantErr: "email not verified"},
		{name: "email_verified not a boolean", opts: Options{UsernameClaim: "email"}, claims: `{"email":"a@b.c","email_verified":"true"}`, wantErr: "not a boolean"},
		{name: "dash disables the prefix", opts: Options{UsernamePrefix: "-"}, claims: `{"sub":"id1"}`, wantName: "id1"},
		{name: "explicit prefix", opts: Options{UsernamePrefix: "oidc:"}, claims: `{"sub":"id1"}`, wantName: "oidc:id1"},
		{name: "explicit prefix on email", opts: Options{UsernameClaim: "email", UsernamePrefix: "oidc:"}, claims: `{"email":"a@b.c"}`, wantName: "oidc:a@b.c"},
		{name: "other claim gets the issuer prefix", opts: Options{UsernameClaim: "preferred_username"}, claims: `{"sub":"1","preferred_username":"al"}`, wantName: issuer + "#al"},
		{name: "missing username", opts: Options{UsernameClaim: "preferred_username"}, claims: `{"sub":"1"}`, wantErr: `username claim "preferred_username" missing or empty`},
		{name: "empty username", opts: Options{}, claims: `{"sub":""}`, wantErr: "missing or empty"},
		{name: "username not a string", opts: Options{}, claims: `{"sub":7}`, wantErr: "not a string"},
		{name: "groups list with prefix", opts: Options{UsernamePrefix: "-", GroupsClaim: "groups", GroupsPrefix: "oidc:"}, claims: `{"sub":"u","groups":["a","b"]}`, wantName: "u", wantGroups: []string{"oidc:a", "oidc:b"}},
		{name: "groups as one string", opts: Options{UsernamePrefix: "-", GroupsClaim: "role"}, claims: `{"sub":"u","role":"admin"}`, wantName: "u", wantGroups: []string{"admin"}},
		{name: "groups absent", opts: Options{UsernamePrefix: "-", GroupsClaim: "groups"}, claims: `{"sub":"u"}`, wantName: "u"},
		{name: "groups of numbers", opts: Options{UsernamePrefix: "-", GroupsClaim: "groups"}, claims: `{"sub":"u","groups":[1]}`, wantErr: "neither a string nor a list"},
		{name: "required claim held", opts: Options{UsernamePrefix: "-", RequiredClaims: map[string]string{"hd": "example.com"}}, claims: `{"sub":"u","hd":"example.com"}`, wantName: "u"},
		{name: "required claim other value", opts: Options{UsernamePrefix: "-", RequiredClaims: map[string]string{"hd": "example.com"}}, claims: `{"sub":"u","hd":"evil.com"}`, wantErr: `required claim "hd" is "evil.com"`},
		{name: "required claim absent", opts: Options{UsernamePrefix: "-", RequiredClaims: map[string]string{"hd": "example.com"}}, claims: `{"sub":"u"}`, wantErr: "not present"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.IssuerURL, o.ClientID = issuer, "porthole"
			a, err := New(&o)
			if err != nil {
				t.Fatal(err)
			}
			u, err := a.user(mustClaims(t, tc.claims))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got user %+v, err %v; want error containing %q", u, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Name != tc.wantName || !slices.Equal(u.Groups, tc.wantGroups) {
				t.Fatalf("got %q %q, want %q %q", u.Name, u.Groups, tc.wantName, tc.wantGroups)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"http issuer", Options{IssuerURL: "http://idp.example", ClientID: "c"}, "must be an https URL"},
		{"issuer with query", Options{IssuerURL: "https://idp.example?x=1", ClientID: "c"}, "must be an https URL"},
		{"no client", Options{IssuerURL: issuer}, "client ID is required"},
		{"unknown algorithm", Options{IssuerURL: issuer, ClientID: "c", SigningAlgs: []string{"none"}}, `unsupported signing algorithm "none"`},
		{"missing CA file", Options{IssuerURL: issuer, ClientID: "c", CAFile: "/nonexistent/ca.pem"}, "read CA file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(&tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestOwnsToken: only JWTs naming this issuer are this authenticator's,
// so a static token or another issuer's JWT falls through to the others.
func TestOwnsToken(t *testing.T) {
	a, err := New(&Options{IssuerURL: issuer, ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	jwt := func(payload string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + b64(payload) + ".c2ln"
	}
	tests := []struct {
		token string
		want  bool
	}{
		{jwt(`{"iss":"` + issuer + `"}`), true},
		{jwt(`{"iss":"` + issuer + `/"}`), false},
		{jwt(`{"iss":"https://other.example"}`), false},
		{jwt(`not json`), false},
		{"alice-token", false},
		{"a.b.c", false},
		{"eyJhbGciOiJSUzI1NiJ9.@@@.c2ln", false},
		{jwt(`{"iss":"` + issuer + `","pad":"` + strings.Repeat("x", maxTokenBytes) + `"}`), false},
	}
	for _, tc := range tests {
		if got := a.ownsToken(tc.token); got != tc.want {
			t.Errorf("ownsToken(%.60q): got %v, want %v", tc.token, got, tc.want)
		}
	}
}
