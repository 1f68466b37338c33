//go:build !linux

package localrt

import (
	"os"
	"syscall"
)

// pending cannot tell here; 0 means "unknown" to its callers.
func pending(*os.File) int { return 0 }

// setPipeSize has no portable form; pipes keep their default size.
func setPipeSize(*os.File, int) {}

// waitExit returns at once: without pidfds, Process.Wait blocks a thread
// per process, as it did everywhere before.
func waitExit(int) {}

// setParentDeathSignal has no counterpart outside Linux: a server killed
// with SIGKILL leaves its processes behind there.
func setParentDeathSignal(*syscall.SysProcAttr) {}

// closePidfd: there are no pidfds here.
func closePidfd(int) {}
