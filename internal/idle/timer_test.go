package idle

import (
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"weak"
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

// TestTimerStopLetsGo: a stopped Timer no longer holds what expire closes
// over (a connection), though the runtime may keep the stopped timer in
// its heap until its time, hours away here.
func TestTimerStopLetsGo(t *testing.T) {
	// One P, so one timer heap, and enough live timers in it that the
	// runtime does not clean a single stopped one out at once (it does
	// when they are over a quarter of the heap).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for range 20 {
		defer time.AfterFunc(time.Hour, func() {}).Stop()
	}
	var it *Timer
	held := func() weak.Pointer[[64]byte] {
		conn := new([64]byte)
		it = New(4*time.Hour, func() { conn[0]++ })
		return weak.Make(conn)
	}()
	it.Start()
	it.Stop()
	runtime.GC()
	if held.Value() != nil {
		t.Error("a stopped Timer still holds what its expire closes over")
	}
}
