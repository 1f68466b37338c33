package idle

import (
	"sync"
	"sync/atomic"
	"time"
)

// KeepAlive calls ping every period, for the proxies and load balancers
// between a server and its client, which cut a connection quiet for longer
// than their idle timeout. ping reports whether it sent a ping (it skips
// one while the connection is busy writing, which keeps it alive as well)
// and whether the connection is still open; sent, when set, is told of
// each ping sent. It ends when ping reports the connection closed, or at
// Stop or Release. A timer that re-arms itself, not a goroutine per
// connection. A period of zero or less pings never (and returns nil, whose
// methods do nothing).
//
// The connection's traffic calls Touch (what it sends; on SPDY and the
// gateway's splices, what it receives too, but for the answers to its
// pings): a tick that finds the connection touched since the last one
// skips its ping, so pings go out only after a whole period without
// traffic. Data flowing keeps the proxies' timers alive on its own, and a
// ping into a busy connection is a hazard: spdystream (client-go, kubectl,
// porthole's own client before it answered PINGs itself) answers a PING on
// the frame worker that also delivers a stream's data, so when its writes
// are blocked by a full upload, the answer blocks that worker and, through
// the echo of what it uploads, the whole connection for good.
func KeepAlive(period time.Duration, ping func() (pinged, open bool), sent func()) *Pinger {
	if period <= 0 {
		return nil
	}
	k := &Pinger{period: period}
	k.calls.Store(&pingCalls{ping: ping, sent: sent})
	k.mu.Lock()
	k.t = time.AfterFunc(period, k.fire)
	k.mu.Unlock()
	return k
}

// Pinger is a running KeepAlive.
type Pinger struct {
	period time.Duration
	// calls is what the pings call, nil once released: a stopped timer can
	// stay in the runtime's heap for a while, and must not hold the
	// connection that ping closes over.
	calls atomic.Pointer[pingCalls]

	// writes counts Touch calls; seen is its value at the last tick.
	writes atomic.Uint64
	seen   uint64 // under mu

	mu sync.Mutex // held while a ping is in flight, so Stop waits for it
	t  *time.Timer
}

// Touch records traffic on the connection: the next tick skips its ping.
// Cheap enough for every frame (one atomic add); nil-safe.
func (k *Pinger) Touch() {
	if k != nil {
		k.writes.Add(1)
	}
}

type pingCalls struct {
	ping func() (pinged, open bool)
	sent func()
}

func (k *Pinger) fire() {
	k.mu.Lock()
	defer k.mu.Unlock()
	calls := k.calls.Load()
	if calls == nil {
		return
	}
	if n := k.writes.Load(); n != k.seen {
		k.seen = n // written this period: no ping needed
		k.t.Reset(k.period)
		return
	}
	pinged, open := calls.ping()
	if pinged && calls.sent != nil {
		calls.sent()
	}
	if !open {
		k.calls.Store(nil)
		return
	}
	// Should Release have run since the load above, this arms the timer
	// again, for one tick that finds calls gone and holds nothing.
	k.t.Reset(k.period)
}

// Stop ends the pings: after it returns, ping is not called again (one in
// flight is waited for).
func (k *Pinger) Stop() {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.calls.Store(nil)
	k.t.Stop()
	k.mu.Unlock()
}

// Release ends the pings without waiting for one in flight, which may be
// blocked writing to a peer that stopped reading: a connection's close
// path calls it, so that the timer lets go of the connection at once
// instead of at its next tick, a whole period later. A ping already due
// may still run once after it returns; none after that.
func (k *Pinger) Release() {
	if k == nil {
		return
	}
	k.calls.Store(nil)
	k.t.Stop()
}
