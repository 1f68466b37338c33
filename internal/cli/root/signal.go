package root

import (
	"context"
	"os"
	"os/signal"

	"github.com/porthole/porthole/internal/cli"
	"syscall"
)

// SignalError is the cause of a context cancelled by a signal.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return e.Signal.String() + " signal received" }

// Number is the signal's number (SIGINT is 2).
func (e *SignalError) Number() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return int(s)
	}
	return 0
}

// signalWatch turns SIGINT and SIGTERM into cancellation of a context,
// with a *SignalError as its cause. A second signal is not caught: the
// default action ends the process, so a stuck shutdown can be forced.
type signalWatch struct {
	ch     chan os.Signal
	cancel context.CancelCauseFunc
	quit   chan struct{}
	done   chan struct{}
}

// notifyContext returns ctx cancelled on SIGINT or SIGTERM, and stop, which
// releases the signals and joins the watcher.
func notifyContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &signalWatch{ch: make(chan os.Signal, 1), cancel: cancel, quit: make(chan struct{}), done: make(chan struct{})}
	signal.Notify(w.ch, os.Interrupt, syscall.SIGTERM)
	go w.watch()
	return ctx, func() {
		close(w.quit)
		<-w.done
		cancel(nil)
	}
}

// watch waits for the first signal, cancels, and restores default handling.
func (w *signalWatch) watch() {
	defer close(w.done)
	defer signal.Stop(w.ch)
	select {
	case s := <-w.ch:
		w.cancel(&SignalError{Signal: s})
	case <-w.quit:
	}
}

// Main runs porthole with the process's arguments, streams and signals,
// and returns the exit code for os.Exit.
func Main() int {
	f := cli.New()
	ctx, stop := notifyContext(context.Background())
	defer stop()
	return Run(ctx, f, os.Args[1:])
}
