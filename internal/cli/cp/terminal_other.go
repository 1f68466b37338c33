//go:build !linux

package cp

import "io"

// isTerminal is false off Linux: no progress line there yet.
func isTerminal(io.Writer) bool { return false }
