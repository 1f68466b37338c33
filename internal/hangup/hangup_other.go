//go:build !linux

package hangup

import "syscall"

func gone(syscall.RawConn) bool  { return false }
func quiet(syscall.RawConn) bool { return false }
