// Command porthole runs Kubernetes exec, attach and port-forward as a
// client and as a server (see `porthole --help`).
package main

import (
	"fmt"
	"os"

	"github.com/porthole/porthole/internal/cli/root"
	"github.com/porthole/porthole/internal/initproc"
)

func main() {
	if initproc.Wanted() {
		// A container's first process: run porthole again below a small
		// init that reaps orphans and forwards signals (see initproc).
		// Through /proc/self/exe, the child is named "exe": pkill and
		// killall by name reach the init alone, which forwards once. Named
		// porthole, the child would get such a signal twice, directly and
		// forwarded, and porthole takes a second SIGTERM for "stop now".
		code, err := initproc.Run("/proc/self/exe", os.Args, os.Environ())
		if err == nil {
			os.Exit(code)
		}
		fmt.Fprintf(os.Stderr, "porthole: %v; running without an init\n", err)
	}
	os.Exit(root.Main())
}
