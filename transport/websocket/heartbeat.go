package websocket

import (
	"context"
	"errors"
	"fmt"
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
// connection when a pong does not come back within pongWait of its ping,
// while the server reads what we send.
//
// A ping waits behind the message being written, without a time limit,
// and a missing pong counts only while no message of ours is stuck in
// flight. Why: a message stays in flight while the server does not read
// (a process not reading its stdin fills the pipe, then the socket), and a
// ping written just before sits unread behind it. No pong can come back
// then, and its absence proves nothing, as the server's keepAlive reasons
// the other way. Pinging through coder/websocket gave the ping 5 s to get
// its turn, so `porthole exec -i` of 50 MB into `sh -c 'sleep 14; wc -c'`
// ended in "connection ping: failed to acquire lock" (kubectl 1.33 hangs
// there: its stdin write times out behind its ping's deadline).
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
		var err error
		if c.raw != nil {
			err = c.ping(pongWait)
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), pongWait)
			err = c.ws.Ping(ctx)
			cancel()
		}
		if err != nil {
			if !c.isClosing() && !errors.Is(err, net.ErrClosed) {
				c.fail(&stream.ConnError{Op: "ping", Err: err})
				c.hardClose()
			}
			return
		}
	}
}

// keepAlivePing is an accepted connection's idle.KeepAlive ping
// (AcceptOptions.KeepAlive): one ping with no payload on the server's
// socket, in turn among our messages, unless one is being written. It
// waits for no pong.
func (c *Conn) keepAlivePing() (pinged, open bool) {
	if c.isClosing() {
		return false, false
	}
	select {
	case c.wsem <- struct{}{}:
	default:
		return false, true
	}
	defer func() { <-c.wsem }()
	if c.isClosing() || c.nc == nil {
		return false, !c.isClosing()
	}
	return c.nc.tryPing() // not writeFrame, whose writes count as activity
}

// ErrNoPong fails a client connection whose server did not answer a ping.
var ErrNoPong = errors.New("no pong from the server")

// ping writes one ping on the client's wire, in its turn among our
// messages, and waits pongWait for a pong.
func (c *Conn) ping(pongWait time.Duration) error {
	select {
	case c.wsem <- struct{}{}:
	case <-c.closing:
		return net.ErrClosed
	}
	select { // a pong of an earlier ping, late, does not answer this one
	case <-c.raw.pongs:
	default:
	}
	err := c.raw.writeFrame(OpPing, -1, nil, nil)
	<-c.wsem
	if err != nil {
		return err
	}
	t := time.NewTimer(pongWait)
	defer t.Stop()
	for {
		select {
		case <-c.raw.pongs:
			return nil
		case <-c.closing:
			return net.ErrClosed
		case <-t.C:
		}
		if c.writing.Load() == 0 {
			return fmt.Errorf("%w within %v", ErrNoPong, pongWait)
		}
		t.Reset(pongWait) // the server is not reading: wait on
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
