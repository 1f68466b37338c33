package node

import (
	"context"

	"github.com/porthole/porthole/stream"
)

// track registers an upgraded connection so Shutdown can end it; the caller
// untracks it when its session is over. When the node is shutting down it
// aborts c instead and reports false.
func (n *Node) track(c stream.Conn) bool {
	n.mu.Lock()
	closing := n.closing
	if !closing {
		n.conns[c] = struct{}{}
		n.wg.Add(1)
	}
	n.mu.Unlock()
	if closing {
		_ = c.Abort("server shutting down")
	}
	return !closing
}

func (n *Node) untrack(c stream.Conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
	n.wg.Done()
}

// Shutdown refuses new sessions, lets running ones finish until ctx is done,
// then aborts those left and waits for their handlers to return. Hijacked
// connections are invisible to http.Server.Shutdown, hence this.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	n.closing = true
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	n.mu.Lock()
	for c := range n.conns {
		_ = c.Abort("server shutting down")
	}
	n.mu.Unlock()
	<-done
	return ctx.Err()
}
