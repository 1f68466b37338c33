// Package oidc authenticates the gateway's callers with OpenID Connect, as
// kube-apiserver's --oidc-* flags do: an ID token from the issuer,
// presented as a bearer token (kubectl's token or exec credential plugin),
// is verified (signature against the issuer's published keys, issuer,
// audience = the client ID, expiry, allowed algorithms, required claims)
// and mapped to a user and groups by the configured claims and prefixes.
//
// It is also the relying party for the web terminal (SignIn): the
// authorization code flow with PKCE, state and nonce, ending in an
// HttpOnly, SameSite session cookie that seals the ID token, so that every
// request is verified exactly like a bearer token and any replica holding
// the session key can serve it.
//
// Discovery, key fetching and the token exchange are github.com/coreos/go-oidc
// and golang.org/x/oauth2; the claim rules (username prefix, groups as a
// string or a list, email_verified) follow
// k8s.io/apiserver/plugin/pkg/authenticator/token/oidc.
package oidc
