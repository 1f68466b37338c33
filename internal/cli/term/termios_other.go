//go:build !linux

package term

import "errors"

var errUnsupported = errors.New("terminal control is only implemented on linux")

type termios struct{}

func isTerminal(int) bool                { return false }
func makeRaw(int) (*termios, error)      { return nil, errUnsupported }
func restoreTermios(int, *termios) error { return errUnsupported }
func getSize(int) (int, int, error)      { return 0, 0, errUnsupported }
