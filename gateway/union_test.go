package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// stubTokens knows one token, and fails on tokens with its prefix.
type stubTokens struct {
	token, user, failPrefix string
}

func (s stubTokens) AuthenticateToken(_ context.Context, tok string) (*User, bool, error) {
	if tok == s.token {
		return &User{Name: s.user}, true, nil
	}
	if s.failPrefix != "" && strings.HasPrefix(tok, s.failPrefix) {
		return nil, false, errors.New(s.user + " refused " + tok)
	}
	return nil, false, nil
}

// TestTokenAuthenticators: the first authenticator that knows the token
// decides; errors of the others do not hide a success, and when none
// knows it, their errors are all reported.
func TestTokenAuthenticators(t *testing.T) {
	u := TokenAuthenticators{stubTokens{"t1", "static", ""}, stubTokens{"jwt", "oidc", "ey"}}
	tests := []struct {
		token, wantUser, wantErr string
	}{
		{"t1", "static", ""},
		{"jwt", "oidc", ""},
		{"eyBad", "", "oidc refused eyBad"},
		{"unknown", "", ""},
	}
	for _, tc := range tests {
		got, ok, err := u.AuthenticateToken(context.Background(), tc.token)
		switch {
		case tc.wantUser != "":
			if !ok || err != nil || got.Name != tc.wantUser {
				t.Errorf("%s: got %+v %v %v, want %s", tc.token, got, ok, err, tc.wantUser)
			}
		case ok || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: got %v %v, want not ok and error %q", tc.token, ok, err, tc.wantErr)
		}
	}
}
