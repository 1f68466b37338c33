package oidc

import (
	"encoding/json"
	"testing"
)

// FuzzClaims: a token's payload (its iss peeked before verification) and
// its claims (mapped after) never panic the authenticator; a user it
// returns always has a name.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{`{"sub":"id1"}`, `{"email":"a@b","email_verified":false}`, `{"sub":"u","groups":["a",1]}`,
		`{"sub":"u","groups":"g","hd":"x"}`, `{"iss":"https://idp.example"}`, `[]`, `{"sub":null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		for _, o := range []Options{
			{IssuerURL: issuer, ClientID: "c"},
			{IssuerURL: issuer, ClientID: "c", UsernameClaim: "email", GroupsClaim: "groups", GroupsPrefix: "p:",
				RequiredClaims: map[string]string{"hd": "x"}},
		} {
			a, err := New(&o)
			if err != nil {
				t.Fatal(err)
			}
			a.ownsToken("eyJhbGciOiJSUzI1NiJ9." + b64(payload) + ".c2ln")
			var c claims
			if json.Unmarshal([]byte(payload), &c) != nil {
				continue
			}
			if u, err := a.user(c); err == nil && u.Name == "" {
				t.Fatalf("user without a name from %q", payload)
			}
		}
	})
}
