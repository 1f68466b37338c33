package oidc

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/porthole/porthole/gateway"
)

// claims are an ID token's claims, decoded lazily.
type claims map[string]json.RawMessage

// str decodes claim name as a string; ok is false when it is absent.
func (c claims) str(name string) (s string, ok bool, err error) {
	raw, ok := c[name]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, fmt.Errorf("oidc: claim %q is not a string", name)
	}
	return s, true, nil
}

// user maps verified claims to the gateway's user, with the API server's
// rules: the username claim must be a non-empty string (with email, a
// present email_verified must be true), the prefix applies, the groups
// claim is a string or a list of strings, and every required claim has
// its value.
func (a *Authenticator) user(c claims) (*gateway.User, error) {
	name, ok, err := c.str(a.opts.UsernameClaim)
	if err != nil {
		return nil, err
	}
	if !ok || name == "" {
		return nil, fmt.Errorf("oidc: username claim %q missing or empty", a.opts.UsernameClaim)
	}
	if a.opts.UsernameClaim == "email" {
		if raw, ok := c["email_verified"]; ok {
			var verified bool
			if err := json.Unmarshal(raw, &verified); err != nil {
				return nil, errors.New("oidc: claim \"email_verified\" is not a boolean")
			}
			if !verified {
				return nil, errors.New("oidc: email not verified")
			}
		}
	}
	u := &gateway.User{Name: a.prefix + name}
	if a.opts.GroupsClaim != "" {
		if u.Groups, err = c.groups(a.opts.GroupsClaim, a.opts.GroupsPrefix); err != nil {
			return nil, err
		}
	}
	for claim, want := range a.opts.RequiredClaims {
		got, ok, err := c.str(claim)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("oidc: required claim %q not present", claim)
		}
		if got != want {
			return nil, fmt.Errorf("oidc: required claim %q is %q, want %q", claim, got, want)
		}
	}
	return u, nil
}

// groups decodes a string or a list of strings (kubernetes#33290), each
// with prefix; an absent claim is no groups.
func (c claims) groups(name, prefix string) ([]string, error) {
	raw, ok := c[name]
	if !ok {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("oidc: groups claim %q is neither a string nor a list of strings", name)
		}
		list = []string{one}
	}
	for i := range list {
		list[i] = prefix + list[i]
	}
	return list, nil
}
