// Package oidc checks porthole's OpenID Connect support against a real
// OpenID provider: zitadel/oidc's provider (pkg/op, with the in-memory
// storage and login form of its example server), started by the tests on
// 127.0.0.1 with TLS from a test authority. Every token is minted by that
// provider through its own login: the tests sign users in by submitting
// its login form in the authorization code flow with PKCE, as a browser
// would. kubectl 1.27 ... 1.33 then present the ID tokens to
// `porthole gateway` and `porthole serve` (in the kubeconfig and through
// an exec credential plugin), and the gateway's own browser sign-in is
// driven over HTTP with a cookie jar.
package oidc
