// Package term is the local terminal of the interactive commands: whether
// stdin is a terminal, raw mode with a guaranteed restore, terminal sizes and
// their changes (SIGWINCH), and docker-style detach keys.
package term

import (
	"fmt"
	"sync"

	"github.com/porthole/porthole/protocol/resize"
)

// Fd returns the descriptor of r when r is a terminal.
func Fd(r any) (int, bool) {
	f, ok := r.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, isTerminal(fd)
}

// Raw puts the terminal fd into raw mode and returns restore, which puts it
// back; restore is idempotent and safe to call from several goroutines
// (a deferred call and a signal handler, say).
func Raw(fd int) (restore func() error, err error) {
	st, err := makeRaw(fd)
	if err != nil {
		return nil, fmt.Errorf("raw terminal: %w", err)
	}
	var once sync.Once
	var rerr error
	return func() error {
		once.Do(func() { rerr = restoreTermios(fd, st) })
		return rerr
	}, nil
}

// Size is the terminal's current size.
func Size(fd int) (resize.Size, error) {
	w, h, err := getSize(fd)
	if err != nil {
		return resize.Size{}, fmt.Errorf("terminal size: %w", err)
	}
	return resize.Size{Width: clamp16(w), Height: clamp16(h)}, nil
}

func clamp16(v int) uint16 {
	switch {
	case v < 0:
		return 0
	case v > 0xFFFF:
		return 0xFFFF
	}
	return uint16(v)
}
