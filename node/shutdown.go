package node

import (
	"context"

	"github.com/porthole/porthole/stream"
)

// track registers an upgraded connection so Shutdown can end it. It reports
// false when the node is shutting down; the caller then aborts conn.
func (n *Node) track(c stream.Conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return false
	}
	n.conns[c] = struct{}{}
	n.wg.Add(1)
	return true
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
