package bench

import (
	"fmt"
	"net/url"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// Wire is the protocol client-go speaks to a node.
type Wire int

const (
	// WebSocket is client-go's WebSocket executor (v5.channel.k8s.io only).
	WebSocket Wire = iota
	// SPDY is client-go's SPDY executor (offers v5..v1; servers pick v4).
	SPDY
)

// Wires lists every wire, in table order.
var Wires = []Wire{WebSocket, SPDY}

func (w Wire) String() string {
	if w == WebSocket {
		return "WS v5"
	}
	return "SPDY"
}

// executor builds the client-go executor for one exec at u, exactly as
// kubectl builds each half of its WebSocket-then-SPDY pair.
func executor(w Wire, n *Node, u string) (remotecommand.Executor, error) {
	cfg := &rest.Config{Host: n.URL}
	if w == WebSocket {
		return remotecommand.NewWebSocketExecutor(cfg, "GET", u)
	}
	pu, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("parse exec url: %w", err)
	}
	return remotecommand.NewSPDYExecutor(cfg, "POST", pu)
}
