package term

import (
	"sync"
	"time"

	"github.com/porthole/porthole/protocol/resize"
)

// pollEvery is how often the console size is read: Windows has no
// SIGWINCH, and kubectl polls there too (every 250 ms).
const pollEvery = 250 * time.Millisecond

// sizeChanges ticks when a poll finds a new size, until stop.
func sizeChanges(size func() (resize.Size, error)) (<-chan struct{}, func()) {
	out := make(chan struct{}, 1)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(pollEvery)
		defer t.Stop()
		last, _ := size()
		for {
			select {
			case <-t.C:
			case <-quit:
				return
			}
			sz, err := size()
			if err != nil || sz == last {
				continue
			}
			last = sz
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, func() {
		close(quit)
		wg.Wait()
	}
}
