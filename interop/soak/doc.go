// Package soak runs many short randomized streaming sessions against
// `porthole serve`, directly and through `porthole gateway` in each of its
// modes, with faults injected by a loopback TCP proxy between client and
// server, and checks one invariant per session: every byte delivered
// exactly once with the exact exit code, or a clear error and a non-zero
// exit; never success (or the remote's exit code) with missing or corrupt
// bytes. Afterwards no pod process of any session may remain and the
// servers' resources must be back near their baseline.
//
//	go test ./soak -run TestSoak -args -sessions=10000 -seed=N -parallel=2
//
// See TestSoak and the README's "Soak" section.
package soak
