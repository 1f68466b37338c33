package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/serve/cluster"
)

// Watch limits: a watch ends after timeoutSeconds, at most maxWatchTime
// (the API server ends its watches after 30 to 60 minutes); a write that
// takes longer than watchWriteTimeout ends it too.
const (
	maxWatchTime      = 30 * time.Minute
	watchWriteTimeout = 30 * time.Second
	bookmarkInterval  = 10 * time.Second
)

// watchEvent is one event as the API server streams it: a JSON object per
// line.
type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

// bookmarkObject is a BOOKMARK's object: only kind, apiVersion and
// metadata.resourceVersion (and the end-of-initial-events annotation).
type bookmarkObject struct {
	kube.TypeMeta `json:",inline"`
	Metadata      bookmarkMeta `json:"metadata"`
}

type bookmarkMeta struct {
	ResourceVersion string            `json:"resourceVersion"`
	Annotations     map[string]string `json:"annotations,omitempty"`
}

// watch streams the changes of k's objects as the API server does: HTTP
// 200, then one JSON watch event per line, flushed each. resourceVersion
// "" or "0" (or sendInitialEvents=true) starts with an ADDED event for
// every selected object; a number N replays every change after N, or
// answers a single ERROR event with a 410 Expired Status when N is older
// than the history kept. A watcher too slow to read its events gets the
// same 410 ERROR and the end of the stream; the stream also ends at
// timeoutSeconds, when the client goes, and when the server shuts down.
func (a *api) watch(w http.ResponseWriter, r *http.Request, k *kind, neg negotiation, sel selectors) *status.HTTPError {
	q := r.URL.Query()
	timeout, aerr := watchTimeout(q)
	if aerr != nil {
		return aerr
	}
	bookmarks := protocol.QueryBool(q, "allowWatchBookmarks")
	initial := protocol.QueryBool(q, "sendInitialEvents")
	rv := q.Get("resourceVersion")
	if initial {
		rv = ""
	}
	first, wt, err := a.cluster.Watch(k.resource, cluster.WatchOptions{
		Namespace: r.PathValue("namespace"), Match: k.matcher(sel), ResourceVersion: rv})
	var gone *cluster.GoneError
	switch {
	case errors.As(err, &gone):
		// The API server's watch cache answers 200 with the error as the
		// only event.
		enc := newWatchEncoder(w, a, r, k, neg)
		enc.writeHeader()
		enc.write(watchEvent{Type: "ERROR", Object: expired(gone.Error())})
		return nil
	case err != nil:
		return watchError(err)
	}
	defer wt.Stop()
	enc := newWatchEncoder(w, a, r, k, neg)
	enc.writeHeader()
	for _, e := range first {
		if !enc.event(e) {
			return nil
		}
	}
	if initial {
		rv, _ := wt.Bookmark()
		if rv == "" {
			rv = a.cluster.ResourceVersion()
		}
		if !enc.bookmark(rv, map[string]string{"k8s.io/initial-events-end": "true"}) {
			return nil
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var tick <-chan time.Time
	if bookmarks && neg.out != outTable {
		t := time.NewTicker(bookmarkInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case e := <-wt.Events():
			if !enc.event(e) {
				return nil
			}
		case <-tick:
			if rv, ok := wt.Bookmark(); ok && !enc.bookmark(rv, nil) {
				return nil
			}
		case <-wt.Done():
			if errors.Is(wt.Err(), cluster.ErrTooSlow) {
				enc.write(watchEvent{Type: "ERROR", Object: expired(wt.Err().Error())})
			}
			return nil
		case <-timer.C:
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// watchError is the API server's answer to a watch the cluster refused.
func watchError(err error) *status.HTTPError {
	switch {
	case errors.Is(err, cluster.ErrTooManyWatches):
		return &status.HTTPError{Status: status.NewHTTP(http.StatusTooManyRequests, "TooManyRequests", "too many watches, please try again later", nil)}
	case errors.Is(err, cluster.ErrClosed):
		return &status.HTTPError{Status: status.NewHTTP(http.StatusServiceUnavailable, "ServiceUnavailable", "the server is shutting down", nil)}
	}
	return badRequest(err.Error())
}

// watchTimeout is how long a watch may last: timeoutSeconds, at most
// maxWatchTime.
func watchTimeout(q url.Values) (time.Duration, *status.HTTPError) {
	timeout := maxWatchTime
	if s := q.Get("timeoutSeconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, badRequest(fmt.Sprintf("timeoutSeconds: %q is not a non-negative integer", s))
		}
		if n > 0 && time.Duration(n) < maxWatchTime/time.Second {
			timeout = time.Duration(n) * time.Second
		}
	}
	return timeout, nil
}

// staticWatch watches objects porthole makes up on each request (the
// node), at resourceVersion 1 for good: an ADDED event
// for each of the n selected ones, object(i) as JSON or a Table, unless
// the client resumes from a resourceVersion; then nothing but bookmarks
// if asked, until timeoutSeconds, the client's leaving or shutdown. That
// is the API server's watch of objects that do not change, where kubectl
// get -w lists and waits. It holds a watch of resource, which the cluster
// does not store, so that it counts and ends as every watch does.
func (a *api) staticWatch(w http.ResponseWriter, r *http.Request, neg negotiation, resource, kind string, n int, object func(i int) (any, *status.HTTPError)) *status.HTTPError {
	q := r.URL.Query()
	timeout, aerr := watchTimeout(q)
	if aerr != nil {
		return aerr
	}
	initial := protocol.QueryBool(q, "sendInitialEvents")
	rv := q.Get("resourceVersion")
	if rv != "" && rv != "0" {
		if _, err := strconv.ParseUint(rv, 10, 64); err != nil {
			return badRequest(fmt.Sprintf("resourceVersion: Invalid value: %q: must be a number", rv))
		}
	}
	events := make([]watchEvent, 0, n)
	if initial || rv == "" || rv == "0" {
		for i := range n {
			o, aerr := object(i)
			if aerr != nil {
				return aerr
			}
			if t, ok := o.(kube.Table); ok && i > 0 {
				t.ColumnDefinitions = nil // in the first event only
				o = t
			}
			events = append(events, watchEvent{Type: "ADDED", Object: o})
		}
	}
	bookmark := func(annotations map[string]string) watchEvent {
		return watchEvent{Type: "BOOKMARK", Object: bookmarkObject{
			TypeMeta: kube.TypeMeta{Kind: kind, APIVersion: "v1"},
			Metadata: bookmarkMeta{ResourceVersion: "1", Annotations: annotations}}}
	}
	if initial {
		events = append(events, bookmark(map[string]string{"k8s.io/initial-events-end": "true"}))
	}
	_, wt, err := a.cluster.Watch(cluster.Resource(resource), cluster.WatchOptions{ResourceVersion: "0"})
	if err != nil {
		return watchError(err)
	}
	defer wt.Stop()
	enc := newWatchEncoder(w, a, r, nil, neg)
	enc.writeHeader()
	for _, e := range events {
		if !enc.write(e) {
			return nil
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var tick <-chan time.Time
	if protocol.QueryBool(q, "allowWatchBookmarks") && neg.out != outTable {
		t := time.NewTicker(bookmarkInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			if !enc.write(bookmark(nil)) {
				return nil
			}
		case <-timer.C:
			return nil
		case <-r.Context().Done():
			return nil
		case <-wt.Done():
			return nil
		}
	}
}

// expired is the Status of a 410 Gone watch error.
func expired(msg string) *status.Status {
	return status.NewHTTP(http.StatusGone, "Expired", msg, nil)
}

// watchEncoder writes watch events, as JSON objects or as one-row Tables
// (column definitions in the first only, as the API server sends them).
type watchEncoder struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	a       *api
	r       *http.Request
	k       *kind
	neg     negotiation
	headers bool // the next Table carries the column definitions
	failed  bool
}

func newWatchEncoder(w http.ResponseWriter, a *api, r *http.Request, k *kind, neg negotiation) *watchEncoder {
	return &watchEncoder{w: w, rc: http.NewResponseController(w), a: a, r: r, k: k, neg: neg, headers: true}
}

func (e *watchEncoder) writeHeader() {
	e.w.Header().Set("Content-Type", "application/json")
	e.w.Header().Set("Cache-Control", "no-cache, private")
	e.w.WriteHeader(http.StatusOK)
	e.rc.Flush()
}

// event writes one change; false when the stream is broken.
func (e *watchEncoder) event(ev cluster.Event) bool {
	var obj any = ev.Object
	if e.neg.out == outTable {
		t, err := e.a.table(e.r, e.neg, e.k, []cluster.Object{ev.Object}, kube.ListMeta{ResourceVersion: ev.Object.Meta().ResourceVersion}, e.headers)
		if err != nil {
			return e.write(watchEvent{Type: "ERROR", Object: err.Status})
		}
		e.headers = false
		obj = t
	}
	return e.write(watchEvent{Type: ev.Type, Object: obj})
}

func (e *watchEncoder) bookmark(rv string, annotations map[string]string) bool {
	return e.write(watchEvent{Type: "BOOKMARK", Object: bookmarkObject{
		TypeMeta: kube.TypeMeta{Kind: e.k.kind, APIVersion: e.k.apiVersion},
		Metadata: bookmarkMeta{ResourceVersion: rv, Annotations: annotations}}})
}

// write sends one event line and flushes it, within watchWriteTimeout
// where the connection supports deadlines.
func (e *watchEncoder) write(ev watchEvent) bool {
	if e.failed {
		return false
	}
	b, err := json.Marshal(ev)
	if err != nil {
		e.a.log.Error("encode watch event", "err", err)
		e.failed = true
		return false
	}
	e.rc.SetWriteDeadline(time.Now().Add(watchWriteTimeout))
	if _, err := e.w.Write(append(b, '\n')); err != nil {
		e.failed = true
		return false
	}
	if err := e.rc.Flush(); err != nil {
		e.failed = true
		return false
	}
	return true
}
