// Package node is the streaming server of the node role (the kubelet and the
// runtime's streaming server): it serves exec, attach and port-forward over
// every protocol version a real server speaks, on a pluggable Runtime.
//
// Paths served (GET and POST alike):
//
//	/api/v1/namespaces/{ns}/pods/{pod}/exec|attach|portforward   (API server shape)
//
// The node answers errors before the upgrade as the API server does (Status
// JSON with the HTTP code); after the upgrade, on the error channel.
package node

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/porthole/porthole/internal/registry"
	"github.com/porthole/porthole/stream"
)

// Options configure a Node. The zero value is safe.
type Options struct {
	Logger *slog.Logger
	// IdleTimeout ends a session with no data in either direction (default 4h, as the kubelet).
	IdleTimeout time.Duration
	// KeepAliveTimeout ends a session whose client used to ping and has
	// sent nothing for this long: frozen, or gone without a FIN (default
	// 20 s, see the transports; negative: never).
	KeepAliveTimeout time.Duration
	// StreamCreationTimeout bounds SPDY stream setup (default 30s).
	StreamCreationTimeout time.Duration
	// UDPIdleTimeout ends a forwarded UDP flow that carried no datagram in
	// either direction for this long (default 5 min). Clients expire their
	// idle flows sooner (porthole's: 60 s); this bounds the ones that never do.
	UDPIdleTimeout time.Duration
	// InitialSizeTimeout is how long a tty session waits for the client's
	// first terminal size before starting the process (default 1s).
	InitialSizeTimeout time.Duration
}

// Node serves streaming requests for the pods of a Runtime.
type Node struct {
	rt   Runtime
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	conns registry.Registry[stream.Conn] // the upgraded connections, for Shutdown

	// stopCtx ends every exec and attach when Shutdown's grace is over, so
	// each ends with a failure status rather than a bare close (which a SPDY
	// client reads as success).
	stopCtx context.Context
	stop    context.CancelFunc
}

// New returns a Node serving rt. It starts no goroutines.
func New(rt Runtime, opts *Options) *Node {
	n := &Node{rt: rt}
	n.stopCtx, n.stop = context.WithCancel(context.Background())
	if opts != nil {
		n.opts = *opts
	}
	if n.opts.IdleTimeout == 0 {
		n.opts.IdleTimeout = 4 * time.Hour
	}
	if n.opts.StreamCreationTimeout == 0 {
		n.opts.StreamCreationTimeout = 30 * time.Second
	}
	if n.opts.UDPIdleTimeout == 0 {
		n.opts.UDPIdleTimeout = 5 * time.Minute
	}
	if n.opts.InitialSizeTimeout == 0 {
		n.opts.InitialSizeTimeout = time.Second
	}
	n.log = n.opts.Logger
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.mux = http.NewServeMux()
	n.routes()
	return n
}

// ServeHTTP serves the streaming paths.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) { n.mux.ServeHTTP(w, r) }
