package protocol

import "github.com/porthole/porthole/protocol/channel"

// Want is what an exec or attach request asks for: its stdin, stdout, stderr
// and tty query parameters.
type Want struct {
	Stdin, Stdout, Stderr, TTY bool
}

// SessionStream is one stream of a remote-command session: its SPDY
// streamtype and its WebSocket channel are the same stream.
type SessionStream struct {
	Type    string // the SPDY "streamtype" header's value
	Channel int    // the WebSocket channel number
	Inbound bool   // client to server (stdin, resize)
}

// sessionStreams are every stream a session may have, in the order
// client-go opens them over SPDY (PROTOCOL.md 4.2): each SPDY stream is
// opened after the previous one was answered; servers count them and need
// not see this order.
var sessionStreams = [...]SessionStream{
	{Type: StreamError, Channel: channel.Error},
	{Type: StreamStdin, Channel: channel.Stdin, Inbound: true},
	{Type: StreamStdout, Channel: channel.Stdout},
	{Type: StreamStderr, Channel: channel.Stderr},
	{Type: StreamResize, Channel: channel.Resize, Inbound: true},
}

// Streams returns the streams a session of version v has for w, in opening
// order: the error stream always; stdin and stdout when asked; stderr when
// asked and there is no terminal (a terminal merges it into stdout, and the
// kubelet drops it); resize with a terminal where the version has it.
func (v Version) Streams(w Want) []SessionStream {
	out := make([]SessionStream, 0, len(sessionStreams))
	for _, s := range sessionStreams {
		var on bool
		switch s.Type {
		case StreamError:
			on = true
		case StreamStdin:
			on = w.Stdin
		case StreamStdout:
			on = w.Stdout
		case StreamStderr:
			on = w.Stderr && !w.TTY
		case StreamResize:
			on = w.TTY && v.Resize
		}
		if on {
			out = append(out, s)
		}
	}
	return out
}

// SPDYClientVersion is what a SPDY client (or the gateway, dialling a SPDY
// upstream) speaks once the server chose name: a SPDY server choosing
// v5.channel.k8s.io (none does in Kubernetes, PROTOCOL.md 4.1) is taken as
// v4 under that name, as client-go does; there is no close signal over SPDY,
// where FIN half-closes.
func SPDYClientVersion(name string) (Version, bool) {
	if name == V5 {
		v, _ := Lookup(SPDYVersions, V4)
		v.Name = V5
		return v, true
	}
	return Lookup(SPDYVersions, name)
}
