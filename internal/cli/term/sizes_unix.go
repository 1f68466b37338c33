//go:build !windows

package term

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/porthole/porthole/protocol/resize"
)

// sizeChanges ticks on every SIGWINCH until stop.
func sizeChanges(func() (resize.Size, error)) (<-chan struct{}, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	out := make(chan struct{}, 1)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-sig:
			case <-quit:
				return
			}
			select {
			case out <- struct{}{}:
			default: // one pending tick is enough
			}
		}
	}()
	return out, func() {
		signal.Stop(sig)
		close(quit)
		wg.Wait()
	}
}
