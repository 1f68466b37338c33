// Package registry keeps the live sessions of a server for its graceful
// shutdown: hijacked connections are invisible to http.Server.Shutdown, so
// the node and the gateway track their own.
package registry

import (
	"context"
	"sync"
)

// Registry is a set of live items (connections, sessions) that refuses new
// ones once closing. The zero value is ready.
type Registry[T comparable] struct {
	mu      sync.Mutex
	items   map[T]struct{}
	closing bool
	wg      sync.WaitGroup
}

// Add registers x and reports true, or reports false when the registry is
// closing (the caller then refuses or ends x itself). Every x added must be
// removed.
func (r *Registry[T]) Add(x T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	if r.items == nil {
		r.items = map[T]struct{}{}
	}
	r.items[x] = struct{}{}
	r.wg.Add(1)
	return true
}

// Remove unregisters x.
func (r *Registry[T]) Remove(x T) {
	r.mu.Lock()
	delete(r.items, x)
	r.mu.Unlock()
	r.wg.Done()
}

// Closing reports whether Drain has begun.
func (r *Registry[T]) Closing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closing
}

// Len is the number of live items.
func (r *Registry[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

// Drain refuses new items and waits until every item was removed (true)
// or ctx is done (false).
func (r *Registry[T]) Drain(ctx context.Context) bool {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	select {
	case <-r.empty():
		return true
	case <-ctx.Done():
		return false
	}
}

// empty is closed once every item was removed (after closing: none can be
// added meanwhile).
func (r *Registry[T]) empty() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	return done
}

// End calls end for every live item, side by side (an end may wait,
// boundedly, on its peer), and returns once they all returned.
func (r *Registry[T]) End(end func(T)) {
	r.mu.Lock()
	items := make([]T, 0, len(r.items))
	for x := range r.items {
		items = append(items, x)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, x := range items {
		wg.Go(func() { end(x) })
	}
	wg.Wait()
}

// Wait waits until every item was removed.
func (r *Registry[T]) Wait() { r.wg.Wait() }

// WaitFor waits until every item was removed (true) or ctx is done.
func (r *Registry[T]) WaitFor(ctx context.Context) bool {
	select {
	case <-r.empty():
		return true
	case <-ctx.Done():
		return false
	}
}
