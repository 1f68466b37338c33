package websocket

import (
	"time"

	"github.com/porthole/porthole/internal/hangup"
	"github.com/porthole/porthole/stream"
)

// stallCheck is how long the read loop waits for a consumer before it looks
// whether the peer is still there (see checkPeer).
const stallCheck = time.Second

// stalled returns a channel that fires once the read loop has waited
// stallCheck from now; nil on the client, which pings its server. Read loop
// only: one timer, re-armed for each wait.
func (c *Conn) stalled() <-chan time.Time {
	if c.nc == nil {
		return nil
	}
	if c.stall == nil {
		c.stall = time.NewTimer(stallCheck)
	} else {
		c.stall.Reset(stallCheck)
	}
	return c.stall.C
}

// checkPeer runs while the read loop waits for a consumer (a process that
// does not read its stdin), so nobody reads the socket and a client that
// vanished goes unseen. It looks at the socket instead: a peer that is gone
// ends the connection at once (the session then kills its process).
// Otherwise it sends a probe: a killed client's FIN may be stuck behind the
// data we do not take, but its kernel answers new data with a reset.
func (c *Conn) checkPeer() error {
	if hangup.Gone(c.nc.Conn) {
		c.log.Debug("websocket peer gone while its data waited", "protocol", c.version.Name)
		c.fail(&stream.ConnError{Op: "read message", Err: stream.ErrPeerGone})
		c.hardClose()
		return errAborted
	}
	c.probe()
	return nil
}

// probe sends an empty unsolicited pong (0x8A, length 0; server frames are
// unmasked) when it cannot block: nothing unacknowledged in the socket and
// no message being written (data in flight provokes a vanished peer just as
// well). A pong asks for no answer (RFC 6455 5.5.3: a unidirectional
// heartbeat). A ping did, and the client is, by the time we probe, likely
// in the middle of writing the stdin we cannot take: a client that must
// answer a ping before its write ends fails instead (coder/websocket gives
// up on its pong after 5 s and ends the session).
func (c *Conn) probe() {
	if !hangup.Quiet(c.nc.Conn) {
		return
	}
	select {
	case c.wsem <- struct{}{}:
	default:
		return
	}
	defer func() { <-c.wsem }()
	if c.isClosing() {
		return
	}
	_, _ = c.nc.Write([]byte{0x8A, 0})
}
