//go:build !unix

package spdy

import "syscall"

// waitReadable is a no-op where we cannot poll: ReadFrom then holds a
// buffer while it waits in Read.
func waitReadable(syscall.RawConn) {}
