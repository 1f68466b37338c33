// Command porthole runs Kubernetes exec, attach and port-forward as a
// client and as a server (see `porthole --help`).
package main

import (
	"os"

	"github.com/porthole/porthole/internal/cli/root"
)

func main() { os.Exit(root.Main()) }
