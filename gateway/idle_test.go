package gateway

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestIdleTimer: activity pushes the deadline back; silence for the whole
// timeout fires it once.
func TestIdleTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fired atomic.Int32
		it := newIdleTimer(time.Hour, func() { fired.Add(1) })
		defer it.stop()
		for range 5 {
			time.Sleep(50 * time.Minute)
			it.touch()
		}
		synctest.Wait()
		if n := fired.Load(); n != 0 {
			t.Fatalf("fired %d times while active", n)
		}
		time.Sleep(61 * time.Minute)
		synctest.Wait()
		if n := fired.Load(); n != 1 {
			t.Fatalf("fired %d times after an idle hour, want 1", n)
		}
	})
}
