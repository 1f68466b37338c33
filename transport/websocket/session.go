package websocket

import (
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

// remoteCommandChannels is how many channels a remote-command session has
// on both sides (PROTOCOL.md 3.3).
const remoteCommandChannels = 5

// ServerSession is the server's side of an exec or attach session on c.
// Every channel exists; the ones the server will not read (the outbound
// ones, stdin not asked for, resize without a terminal, on which the kubelet
// wedges, PROTOCOL.md 3.7) are closed for reading, so a client writing to
// them cannot stall the read loop.
func (c *Conn) ServerSession(want protocol.Want) *stream.Session {
	s := c.session(want, true)
	for _, o := range []stream.Stream{s.Stdout, s.Stderr, s.Error} {
		if o != nil {
			s.Connected = o
			break
		}
	}
	return s
}

// ClientSession is the client's side of an exec or attach session on c:
// the channels it will not read (its own inbound ones, outputs it did not
// ask for) are closed for reading, so stray messages cannot stall it.
func (c *Conn) ClientSession(want protocol.Want) *stream.Session {
	return c.session(want, false)
}

func (c *Conn) session(want protocol.Want, server bool) *stream.Session {
	s := &stream.Session{Conn: c, Version: c.version, Want: want}
	read := make([]bool, remoteCommandChannels)
	for _, st := range c.version.Streams(want) {
		*s.Slot(st.Type) = c.Channel(st.Channel)
		read[st.Channel] = st.Inbound == server
	}
	for ch, r := range read {
		if !r {
			_ = c.Channel(ch).CloseRead()
		}
	}
	return s
}
