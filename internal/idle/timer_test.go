package idle

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestTimer: activity pushes the deadline back; silence for the whole
// timeout expires it once; Stop prevents it; a non-positive timeout never
// expires. (synctest: the clock is the bubble's, so nothing depends on
// the machine's speed.)
func TestTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fired atomic.Int32
		it := New(time.Hour, func() { fired.Add(1) })
		it.Start()
		defer it.Stop()
		for range 5 {
			time.Sleep(50 * time.Minute)
			it.Touch()
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

// TestTimerStopAndDisabled: a stopped or unstarted Timer never expires, nor
// does one with no timeout.
func TestTimerStopAndDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fired atomic.Int32
		stopped := New(time.Minute, func() { fired.Add(1) })
		stopped.Start()
		time.Sleep(30 * time.Second)
		stopped.Stop()
		unstarted := New(time.Minute, func() { fired.Add(1) })
		never := New(0, func() { fired.Add(1) })
		never.Start()
		never.Touch()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if n := fired.Load(); n != 0 || never != nil || unstarted == nil {
			t.Fatalf("fired %d times", n)
		}
		unstarted.Stop()
	})
}
