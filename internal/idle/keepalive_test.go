package idle

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestKeepAlive: a ping every period, counted when it went out (not when
// the connection was busy); none after stop, none after the connection
// reported itself closed; none at all for a period of zero or less.
func TestKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls, sent atomic.Int32
		busy := func(n int32) bool { return n%3 == 0 } // every third call finds a write in progress
		stop := KeepAlive(10*time.Second, func() (bool, bool) { return !busy(calls.Add(1)), true }, func() { sent.Add(1) })
		time.Sleep(65 * time.Second)
		synctest.Wait()
		if c, s := calls.Load(), sent.Load(); c != 6 || s != 4 {
			t.Errorf("after 65 s at 10 s: %d pings tried, %d sent; want 6 and 4", c, s)
		}
		stop()
		time.Sleep(time.Minute)
		synctest.Wait()
		if c := calls.Load(); c != 6 {
			t.Errorf("%d pings tried after stop", c-6)
		}

		var closedCalls atomic.Int32
		KeepAlive(time.Second, func() (bool, bool) { return false, closedCalls.Add(1) < 3 }, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		if c := closedCalls.Load(); c != 3 {
			t.Errorf("%d pings tried, want 3: none after the connection said it closed", c)
		}

		var never atomic.Int32
		KeepAlive(0, func() (bool, bool) { never.Add(1); return true, true }, nil)()
		KeepAlive(-time.Second, func() (bool, bool) { never.Add(1); return true, true }, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := never.Load(); n != 0 {
			t.Errorf("%d pings for a period of zero or less", n)
		}
	})
}
