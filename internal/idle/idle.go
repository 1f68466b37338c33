// Package idle ends what sat unused too long: one Timer per connection or
// session, shared by the transports and the gateway.
package idle

import (
	"sync"
	"sync/atomic"
	"time"
)

// Timer calls expire once, when nothing happened for timeout. Touch records
// activity with one atomic store: no timer reset per message and no
// goroutine, only one runtime timer that re-arms itself for the time left
// when it fires early. Safe for concurrent use.
type Timer struct {
	timeout time.Duration
	start   time.Time
	last    atomic.Int64 // time.Since(start) at the last activity

	mu sync.Mutex
	t  *time.Timer
	// expire is nil once the Timer stopped or expired: a stopped runtime
	// timer can stay in the runtime's heap until its time, hours away, and
	// must not hold what expire closes over (a whole connection).
	expire func()
}

// New returns a Timer; Start arms it. A timeout of zero or less never
// expires (a nil *Timer, whose methods do nothing).
func New(timeout time.Duration, expire func()) *Timer {
	if timeout <= 0 {
		return nil
	}
	return &Timer{timeout: timeout, start: time.Now(), expire: expire}
}

// Start arms the Timer, counting from New or the last Touch. Callers store
// the Timer before they start it, so that expire, on the Timer's own
// goroutine, sees it stored.
func (it *Timer) Start() {
	if it == nil {
		return
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.t == nil && it.expire != nil {
		it.t = time.AfterFunc(it.timeout, it.fire)
	}
}

// Touch records activity now.
func (it *Timer) Touch() {
	if it != nil {
		it.last.Store(int64(time.Since(it.start)))
	}
}

func (it *Timer) fire() {
	it.mu.Lock()
	expire := it.expire
	if expire == nil {
		it.mu.Unlock()
		return
	}
	quiet := time.Since(it.start) - time.Duration(it.last.Load())
	if quiet < it.timeout {
		it.t.Reset(it.timeout - quiet)
		it.mu.Unlock()
		return
	}
	it.expire = nil
	it.mu.Unlock()
	expire()
}

// Stop ends the Timer; expire is not called after Stop returns (unless it
// was already running).
func (it *Timer) Stop() {
	if it == nil {
		return
	}
	it.mu.Lock()
	it.expire = nil
	if it.t != nil {
		it.t.Stop()
	}
	it.mu.Unlock()
}
