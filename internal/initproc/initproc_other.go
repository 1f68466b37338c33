//go:build !linux

package initproc

import "errors"

const supported = false

// Run is Linux's only: elsewhere Wanted is false.
func Run(path string, args, env []string) (int, error) {
	return 0, errors.New("init: not supported on this system")
}
