package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Event is one change: ADDED, MODIFIED or DELETED, with the object after
// it (for DELETED, the object as it was, with the deletion's
// resourceVersion), and for MODIFIED and DELETED the object before (a
// list's later pages rebuild the objects from them).
type Event struct {
	Type     string
	Resource Resource
	Object   Object
	Prev     Object
	RV       uint64

	size int // Object's and Prev's JSON size, for the history's byte bound
}

// GoneError is a watch from a resourceVersion older than the history
// kept: the client must list again (the API server's 410 Expired).
type GoneError struct {
	Requested, Oldest uint64
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("too old resource version: %d (%d)", e.Requested, e.Oldest)
}

// ErrTooSlow ends a watcher whose queue filled up: it read events slower
// than they came.
var ErrTooSlow = errors.New("the watcher fell too far behind: too old resource version")

// ErrTooManyWatches refuses a watch past maxWatchers.
var ErrTooManyWatches = errors.New("too many watches")

// recordLocked keeps e in the history and hands it to the watchers. The
// history keeps the last historySize events, fewer when their objects
// pass maxHistoryBytes (the newest always): a few large objects that
// change often must not hold historySize copies of themselves.
func (c *Cluster) recordLocked(e Event) {
	e.size = jsonSize(e.Object) + jsonSize(e.Prev)
	c.history = append(c.history, e)
	c.keptBytes += e.size
	for n := len(c.history) - c.historyFrom; n > historySize || (n > 1 && c.keptBytes > maxHistoryBytes); n-- {
		c.keptBytes -= c.history[c.historyFrom].size
		c.history[c.historyFrom] = Event{} // its objects may go
		c.historyFrom++
	}
	if c.historyFrom >= historySize {
		n := copy(c.history, c.history[c.historyFrom:])
		clear(c.history[n:])
		c.history, c.historyFrom = c.history[:n], 0
	}
	for w := range c.watchers {
		w.sendLocked(e)
	}
}

// keptLocked is the history's events, oldest first.
func (c *Cluster) keptLocked() []Event { return c.history[c.historyFrom:] }

func jsonSize(o Object) int {
	if o == nil {
		return 0
	}
	b, err := json.Marshal(o)
	if err != nil {
		return 0
	}
	return len(b)
}

// oldestLocked is the resourceVersion of the oldest event kept: a watch
// from rv can be served from history when rv+1 >= oldest.
func (c *Cluster) oldestLocked() uint64 {
	if kept := c.keptLocked(); len(kept) > 0 {
		return kept[0].RV
	}
	return c.rv + 1
}

// Watcher receives the events of one watch. Its queue is bounded: a
// watcher that falls behind by queueSize events is ended with ErrTooSlow.
type Watcher struct {
	c         *Cluster
	res       Resource
	namespace string
	match     func(Object) bool

	events chan Event
	done   chan struct{}
	err    error // why it ended (under c.mu); nil for Stop and the cluster's end
	ended  bool
}

// WatchOptions say what a watch sees.
type WatchOptions struct {
	Namespace string            // "" for all
	Match     func(Object) bool // nil for all
	// ResourceVersion: "" or "0" start with a synthetic ADDED for every
	// object that exists now; a number N replays every change after N
	// kept in history, or fails with *GoneError.
	ResourceVersion string
}

// Watch starts a watch of res. It returns the events to send first (the
// synthetic ADDED events or the history replay) and the Watcher whose
// Events follow them without a gap or a repeat; the caller must Stop it.
func (c *Cluster) Watch(res Resource, o WatchOptions) ([]Event, *Watcher, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, ErrClosed
	}
	if len(c.watchers) >= maxWatchers {
		return nil, nil, ErrTooManyWatches
	}
	w := &Watcher{c: c, res: res, namespace: o.Namespace, match: o.Match,
		events: make(chan Event, queueSize), done: make(chan struct{})}
	var first []Event
	switch o.ResourceVersion {
	case "", "0":
		if res == Pods {
			c.syncPodsLocked()
		}
		for _, obj := range c.listLocked(res, o.Namespace, o.Match) {
			first = append(first, Event{Type: "ADDED", Resource: res, Object: obj, RV: atou(obj.Meta().ResourceVersion)})
		}
	default:
		from, err := strconv.ParseUint(o.ResourceVersion, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid resource version %q", o.ResourceVersion)
		}
		if oldest := c.oldestLocked(); from+1 < oldest {
			return nil, nil, &GoneError{Requested: from, Oldest: oldest - 1}
		}
		for _, e := range c.keptLocked() {
			if e.RV > from {
				if t, ok := w.translate(e); ok {
					first = append(first, t)
				}
			}
		}
	}
	c.watchers[w] = struct{}{}
	return first, w, nil
}

// Events are the watch's events after the first ones.
func (w *Watcher) Events() <-chan Event { return w.events }

// Done is closed when the watch ends: Stop, the cluster's Stop, or the
// watcher falling behind (Err says which).
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Err is why the watch ended: ErrTooSlow, or nil.
func (w *Watcher) Err() error {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.err
}

// Stop ends the watch; it is idempotent.
func (w *Watcher) Stop() {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	w.endLocked(nil)
}

// Bookmark returns the resourceVersion a BOOKMARK may carry now: the
// cluster's, when every event up to it has been taken from Events (ok
// false otherwise, so a client resuming from a bookmark misses nothing).
func (w *Watcher) Bookmark() (string, bool) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if len(w.events) > 0 || w.ended {
		return "", false
	}
	return strconv.FormatUint(w.c.rv, 10), true
}

func (w *Watcher) endLocked(err error) {
	if w.ended {
		return
	}
	w.ended, w.err = true, err
	delete(w.c.watchers, w)
	close(w.done)
}

func (w *Watcher) sendLocked(e Event) {
	t, ok := w.translate(e)
	if !ok {
		return
	}
	select {
	case w.events <- t:
	default:
		w.endLocked(ErrTooSlow)
	}
}

// translate is e as this watcher sees it: nothing for another resource
// or namespace or an object the watch does not select; an object that
// comes to match is ADDED, one that stops matching DELETED (its previous
// state with the event's resourceVersion), as the API server's watch
// cache does.
func (w *Watcher) translate(e Event) (Event, bool) {
	if e.Resource != w.res {
		return Event{}, false
	}
	in := func(o Object) bool {
		return o != nil && (w.namespace == "" || o.Meta().Namespace == w.namespace) && (w.match == nil || w.match(o))
	}
	cur := in(e.Object)
	if e.Type != "MODIFIED" {
		if !cur {
			return Event{}, false
		}
		return e, true
	}
	prev := in(e.Prev)
	switch {
	case cur && prev:
		return e, true
	case cur:
		return Event{Type: "ADDED", Resource: e.Resource, Object: e.Object, RV: e.RV}, true
	case prev:
		return Event{Type: "DELETED", Resource: e.Resource, Object: withRV(e.Prev, e.RV), RV: e.RV}, true
	}
	return Event{}, false
}

func atou(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}
