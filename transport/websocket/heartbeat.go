package websocket

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/porthole/porthole/stream"
)

// expireIdle closes the socket like the deadline of the real servers does.
func (c *Conn) expireIdle() {
	c.log.Debug("websocket idle timeout", "protocol", c.version.Name)
	c.fail(&stream.ConnError{Op: "idle", Err: ErrIdleTimeout})
	c.hardClose()
}

// pingLoop pings the server every interval like client-go and ends the
// connection when a pong does not come back within pongWait.
func (c *Conn) pingLoop(interval, pongWait time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), pongWait)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			if !c.isClosing() && !errors.Is(err, net.ErrClosed) {
				c.fail(&stream.ConnError{Op: "ping", Err: err})
				c.hardClose()
			}
			return
		}
	}
}

// ErrPeerUnresponsive ends a connection whose pinging peer went silent for
// the keep-alive timeout.
var ErrPeerUnresponsive = errors.New("peer unresponsive: nothing received within the keep-alive timeout")

// keepAlive is the server's watch on a client that pings: once it has
// pinged, silence beyond timeout while the read loop waits for the next
// frame means the peer froze or vanished without a FIN. Silence while the
// read loop is held up delivering (a full stdin) proves nothing; a client
// that never pings is left to the idle timeout.
//
// It is a timer that re-arms itself every timeout/4, not a goroutine: an
// idle session parks nothing for it.
type keepAlive struct {
	c       *Conn
	timeout time.Duration
	mu      sync.Mutex // held while check runs, so stop waits for it
	t       *time.Timer
	stopped bool
}

// startKeepAlive arms the watch; Conn.wait stops it.
func (c *Conn) startKeepAlive(timeout time.Duration) {
	k := &keepAlive{c: c, timeout: timeout}
	k.mu.Lock()
	k.t = time.AfterFunc(timeout/4, k.check)
	k.mu.Unlock()
	c.keepAlive = k
}

func (k *keepAlive) check() {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.c
	if k.stopped || c.isClosing() {
		k.stopped = true
		return
	}
	if !c.peerPings.Load() || sinceNano(c.lastIn.Load()) < k.timeout {
		k.t.Reset(k.timeout / 4)
		return
	}
	if w := c.readWaiting.Load(); w == 0 || sinceNano(w) < k.timeout {
		k.t.Reset(k.timeout / 4)
		return
	}
	k.stopped = true
	c.log.Info("websocket peer unresponsive", "timeout", k.timeout)
	c.fail(&stream.ConnError{Op: "keepalive", Err: ErrPeerUnresponsive})
	c.hardClose()
}

// stop ends the watch; a check in progress finishes first.
func (k *keepAlive) stop() {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.stopped = true
	k.t.Stop()
	k.mu.Unlock()
}

func sinceNano(ns int64) time.Duration { return time.Since(time.Unix(0, ns)) }
