package idle

import (
	"sync"
	"time"
)

// KeepAlive calls ping every period, for the proxies and load balancers
// between a server and its client, which cut a connection quiet for longer
// than their idle timeout. ping reports whether it sent a ping (it skips
// one while the connection is busy writing, which keeps it alive as well)
// and whether the connection is still open; sent, when set, is told of
// each ping sent. It ends when ping reports the connection closed or stop
// is called: after stop returns, ping is not called again (one in flight
// is waited for). A timer that re-arms itself, not a goroutine per
// connection. A period of zero or less pings never.
func KeepAlive(period time.Duration, ping func() (pinged, open bool), sent func()) (stop func()) {
	if period <= 0 {
		return func() {}
	}
	k := &keepAlive{period: period, ping: ping, sent: sent}
	k.mu.Lock()
	k.t = time.AfterFunc(period, k.fire)
	k.mu.Unlock()
	return k.stop
}

type keepAlive struct {
	period time.Duration
	ping   func() (pinged, open bool)
	sent   func()

	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func (k *keepAlive) fire() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	pinged, open := k.ping()
	if pinged && k.sent != nil {
		k.sent()
	}
	if !open {
		k.stopped = true
		return
	}
	k.t.Reset(k.period)
}

func (k *keepAlive) stop() {
	k.mu.Lock()
	k.stopped = true
	k.t.Stop()
	k.mu.Unlock()
}
