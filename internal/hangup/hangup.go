// Package hangup looks at a TCP connection's socket, without reading from
// it, to tell whether the peer has gone.
//
// Why: our transports stop reading a connection while a consumer does not
// take what was read (backpressure: a process that never reads its stdin).
// Meanwhile the end of the connection goes unseen, and with it a client
// that vanished; its session and process would live on. A transport that
// has waited a while for its consumer asks Gone, and sends the peer a
// protocol-level ping when Quiet says the ping cannot block: a killed
// peer's FIN may be stuck behind data we do not take (our receive window is
// shut), but its kernel answers any new data with a reset, which Gone sees.
package hangup

import (
	"net"
	"syscall"
)

// Gone reports whether c's peer closed its end (FIN) or reset the
// connection, whatever unread data precedes that. False when it cannot
// tell (not a socket, or not Linux).
func Gone(c net.Conn) bool {
	rc := rawConn(c)
	return rc != nil && gone(rc)
}

// Quiet reports whether everything written to c has been acknowledged, so
// that a small write cannot block. False when it cannot tell.
func Quiet(c net.Conn) bool {
	rc := rawConn(c)
	return rc != nil && quiet(rc)
}

// rawConn finds the socket under c, through TLS.
func rawConn(c net.Conn) syscall.RawConn {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
