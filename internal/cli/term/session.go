package term

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/protocol/resize"
)

// Terminal says how the local side of a session is wired.
type Terminal struct {
	// Stdin: -i. TTY: -t.
	Stdin, TTY bool
	// Quiet suppresses the TTY warning (-q).
	Quiet bool
	// GrowFirst sends a size one larger before the real one, so a reattached
	// full-screen program redraws (kubectl attach).
	GrowFirst bool
	// DetachKeys, when set, end stdin (not the session) when typed in raw mode.
	DetachKeys []byte
}

// Stream runs fn with streams set up as kubectl does (SetupTTY): without -i
// there is no stdin and no TTY; with -t but a stdin that is no terminal, a
// warning and no TTY; otherwise the terminal goes raw for the length of fn
// and is restored on every way out (return, panic, SIGHUP, SIGTERM through
// ctx), the initial size is queued before the session starts and SIGWINCH
// sends new ones. raw tells fn whether a remote TTY is in use.
func Stream(ctx context.Context, ios *iostreams.IOStreams, t Terminal, fn func(ctx context.Context, o client.StreamOptions, raw bool) error) (err error) {
	o := client.StreamOptions{Stdout: ios.Out, Stderr: ios.ErrOut}
	if !t.Stdin {
		return fn(ctx, o, false)
	}
	o.Stdin = ios.In
	fd, isTerm := Fd(ios.In)
	if !t.TTY {
		return fn(ctx, o, false)
	}
	if !isTerm {
		if !t.Quiet {
			fmt.Fprintln(ios.ErrOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
		}
		return fn(ctx, o, false)
	}
	restore, err := Raw(fd)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	// A hang-up while raw must still restore the terminal: end the session.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stop()
	sizeFd := fd
	if ofd, ok := Fd(ios.Out); ok {
		sizeFd = ofd
	}
	var first []resize.Size
	if sz, err := Size(sizeFd); err == nil {
		if t.GrowFirst {
			first = append(first, resize.Size{Width: sz.Width + 1, Height: sz.Height + 1})
		}
		first = append(first, sz)
	}
	sizes := WatchSizes(sizeFd, first...)
	defer sizes.Stop()
	o.TTY, o.Sizes, o.Stderr = true, sizes.C, nil
	if len(t.DetachKeys) > 0 {
		o.Stdin = NewDetachReader(ios.In, t.DetachKeys)
	}
	return fn(ctx, o, true)
}
