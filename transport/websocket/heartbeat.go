package websocket

import (
	"context"
	"errors"
	"net"
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

// keepAliveLoop is the server's watch on a client that pings: once it has
// pinged, silence beyond timeout while the read loop waits for the next
// frame means the peer froze or vanished without a FIN. Silence while the
// read loop is held up delivering (a full stdin) proves nothing; a client
// that never pings is left to the idle timeout.
func (c *Conn) keepAliveLoop(timeout time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(timeout / 4)
	defer t.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-c.done:
			return
		case <-t.C:
		}
		if !c.peerPings.Load() || sinceNano(c.lastIn.Load()) < timeout {
			continue
		}
		if w := c.readWaiting.Load(); w == 0 || sinceNano(w) < timeout {
			continue
		}
		c.log.Info("websocket peer unresponsive", "timeout", timeout)
		c.fail(&stream.ConnError{Op: "keepalive", Err: ErrPeerUnresponsive})
		c.hardClose()
		return
	}
}

func sinceNano(ns int64) time.Duration { return time.Since(time.Unix(0, ns)) }
