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
	// WebSocketV4 is client-go's WebSocket executor offering only the
	// legacy v4.channel.k8s.io, which the CRI server speaks itself (no
	// translator) but which cannot half-close stdin.
	WebSocketV4
)

// Wires lists every exec wire, in table order.
func Wires() []Wire { return []Wire{WebSocket, SPDY, WebSocketV4} }

func (w Wire) String() string {
	switch w {
	case WebSocket:
		return "WS v5"
	case WebSocketV4:
		return "WS v4 (legacy)"
	}
	return "SPDY"
}

// halfCloses says whether the wire can end stdin alone; without it an idle
// session is ended by dropping the connection.
func (w Wire) halfCloses() bool { return w != WebSocketV4 }

// direct says whether the reference serves the wire itself at a one-time
// cri-streaming URL rather than through the kubelet front.
func (w Wire) direct() bool { return w != WebSocket }

// executor builds the client-go executor for one exec at u, exactly as
// kubectl builds each half of its WebSocket-then-SPDY pair.
func executor(w Wire, n *Node, u string) (remotecommand.Executor, error) {
	cfg := &rest.Config{Host: n.URL}
	switch w {
	case WebSocket:
		return remotecommand.NewWebSocketExecutor(cfg, "GET", u)
	case WebSocketV4:
		return remotecommand.NewWebSocketExecutorForProtocols(cfg, "GET", u, "v4.channel.k8s.io")
	}
	pu, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("parse exec url: %w", err)
	}
	return remotecommand.NewSPDYExecutor(cfg, "POST", pu)
}
