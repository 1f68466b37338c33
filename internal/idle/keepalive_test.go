package idle

import (
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"weak"
)

// TestKeepAlive: a ping every period, counted when it went out (not when
// the connection was busy); none after stop, none after the connection
// reported itself closed; none at all for a period of zero or less.
func TestKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls, sent atomic.Int32
		busy := func(n int32) bool { return n%3 == 0 } // every third call finds a write in progress
		p := KeepAlive(10*time.Second, func() (bool, bool) { return !busy(calls.Add(1)), true }, func() { sent.Add(1) })
		time.Sleep(65 * time.Second)
		synctest.Wait()
		if c, s := calls.Load(), sent.Load(); c != 6 || s != 4 {
			t.Errorf("after 65 s at 10 s: %d pings tried, %d sent; want 6 and 4", c, s)
		}
		p.Stop()
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
		KeepAlive(0, func() (bool, bool) { never.Add(1); return true, true }, nil).Stop()
		KeepAlive(-time.Second, func() (bool, bool) { never.Add(1); return true, true }, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := never.Load(); n != 0 {
			t.Errorf("%d pings for a period of zero or less", n)
		}
	})
}

// TestKeepAliveRelease: Release ends the pings without waiting for one in
// flight (blocked here, as on a peer that stopped reading), and that ping's
// end does not arm the timer again.
func TestKeepAliveRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		p := KeepAlive(10*time.Second, func() (bool, bool) { calls.Add(1); return true, true }, nil)
		time.Sleep(25 * time.Second)
		p.Release()
		time.Sleep(time.Minute)
		synctest.Wait()
		if c := calls.Load(); c != 2 {
			t.Errorf("%d pings tried; want 2, none after Release", c)
		}

		// conn stands for the connection the ping holds: once released, the
		// timer must not keep it reachable.
		calls.Store(0)
		blocked, unblock := make(chan struct{}), make(chan struct{})
		held := func() weak.Pointer[[64]byte] {
			conn := new([64]byte)
			p = KeepAlive(10*time.Second, func() (bool, bool) {
				_ = conn[0]
				if calls.Add(1) == 1 {
					close(blocked)
					<-unblock
				}
				return true, true
			}, nil)
			return weak.Make(conn)
		}()
		<-blocked
		p.Release() // returns with the ping still in flight
		p = nil
		close(unblock)
		synctest.Wait()
		// The timer, stopped or armed again by the ping's end, may stay in
		// the runtime's heap: what it holds must not reach the connection.
		for i := 0; held.Value() != nil; i++ {
			if i == 50 {
				t.Fatal("the ping's connection is still reachable after Release and the ping's end")
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if c := calls.Load(); c != 1 {
			t.Errorf("%d pings tried; want 1, none after the one in flight at Release", c)
		}

		var nilPinger *Pinger
		nilPinger.Release()
		nilPinger.Stop()
	})
}

// TestKeepAliveTouch: a period with a write in it sends no ping; pings
// resume once a whole period passes without one.
func TestKeepAliveTouch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		p := KeepAlive(10*time.Second, func() (bool, bool) { calls.Add(1); return true, true }, nil)
		time.Sleep(time.Second / 2) // writes every second, off the ticks, for a minute
		for range 60 {
			p.Touch()
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if c := calls.Load(); c != 0 {
			t.Errorf("%d pings while the connection wrote every second; want 0", c)
		}
		// The tick at 60 s saw the last writes (at 59.5 s); the one at 70 s
		// sees none and pings, and so on every period after.
		time.Sleep(35 * time.Second) // to 95.5 s
		synctest.Wait()
		if c := calls.Load(); c != 3 {
			t.Errorf("%d pings in 35 quiet seconds at 10 s; want 3", c)
		}
		p.Stop()
		var nilPinger *Pinger
		nilPinger.Touch()
	})
}
