package client

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// TestPortForwardEventWords: each event is worded as kubectl prints it, on
// the stream kubectl prints it on.
func TestPortForwardEventWords(t *testing.T) {
	p := ForwardedPort{Local: 8080, Remote: 80}
	boom := errors.New("boom")
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	for _, tc := range []struct {
		e      PortForwardEvent
		want   string
		stderr bool
	}{
		{PortForwardEvent{Kind: EventListening, Port: p, Addr: addr}, "Forwarding from 127.0.0.1:8080 -> 80", false},
		{PortForwardEvent{Kind: EventConnection, Port: p}, "Handling connection for 8080", false},
		{PortForwardEvent{Kind: EventListenWarning, Port: p, Err: boom}, "Warning: port 8080: boom", true},
		{PortForwardEvent{Kind: EventListenFailed, Port: p, Err: boom}, "Unable to listen on port 8080: boom", true},
		{PortForwardEvent{Kind: EventAcceptFailed, Port: p, Err: boom}, "error accepting connection on port 8080: boom", true},
		{PortForwardEvent{Kind: EventRemoteError, Port: p, Message: "refused"}, "an error occurred forwarding 8080 -> 80: refused", true},
		{PortForwardEvent{Kind: EventConnectionFailed, Port: p, Err: boom}, "error forwarding 8080 -> 80: boom", true},
		{PortForwardEvent{Kind: EventSessionLost}, "lost connection to pod, reconnecting...", true},
		{PortForwardEvent{Kind: EventReconnected}, "reconnected", true},
		{PortForwardEvent{Kind: EventReconnectFailed, Err: boom}, "reconnect failed: boom (retrying)", true},
	} {
		var out, errOut strings.Builder
		PrintEvents(&out, &errOut)(tc.e)
		got, other := out.String(), errOut.String()
		if tc.stderr {
			got, other = other, got
		}
		if got != tc.want+"\n" || other != "" || tc.e.String() != tc.want {
			t.Errorf("kind %d: printed %q (other stream %q), want %q", tc.e.Kind, got, other, tc.want)
		}
	}
	PrintEvents(nil, nil)(PortForwardEvent{Kind: EventReconnected}) // nil writers discard
}
