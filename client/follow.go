package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/porthole/porthole/kube"
)

// FollowOptions make a port-forward follow its target instead of staying
// on one pod: when the pod in use goes away (deleted, terminating,
// replaced, no longer running, or not ready while another is), new
// connections go to the target's next ready pod (a pod target: a pod of
// the same name coming back), the local ports stay open, and connections
// already open on the old pod run until they end.
type FollowOptions struct {
	// Resolved is the target's first resolution (ResolveTarget): its pod
	// is the first one used, its selector names the pods to follow, and
	// its Service maps ports.
	Resolved *Resolved
	// PortSpecs are kubectl's port arguments ([LOCAL:]REMOTE), mapped onto
	// each new pod as Resolved.ForwardedPorts maps them (a named port may
	// be another number on another pod); empty keeps Ports' remote ports.
	// They must be the arguments Ports came from, in the same order.
	PortSpecs []string
	// PollInterval is how often the pods are listed when the server
	// cannot watch them (default 1 s).
	PollInterval time.Duration
}

// Tracker timing: list retries back off from trackerRetry up to
// reconnectCap; a watch asks the server to end it after watchTimeout, and
// is then resumed from the last resourceVersion seen.
const (
	defaultPollInterval = time.Second
	trackerRetry        = 500 * time.Millisecond
	watchTimeout        = 5 * time.Minute
	// maxWatchEvent bounds one watch event (a pod document); beyond it the
	// watch is dropped and the pods listed again.
	maxWatchEvent = 8 << 20
)

// podTracker keeps the live set of a target's pods from the API server: a
// list, then a watch resumed from its resourceVersion, or, when the server
// cannot watch (porthole serve before watch, an RBAC role without watch),
// a list every poll interval. Readers wait on changed.
type podTracker struct {
	c      *Client
	ns     string
	query  url.Values // labelSelector, or fieldSelector metadata.name=NAME
	byName bool       // a pod target: any pod of that name will do
	poll   time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	pods    map[string]trackedPod // replaced, never modified, at a change
	changed chan struct{}         // closed and replaced at every change
}

// trackedPod is a pod as the tracker keeps it.
type trackedPod struct {
	pod      *kube.Pod
	deleting bool // metadata.deletionTimestamp is set
}

func newPodTracker(c *Client, ns string, r *Resolved, poll time.Duration, log *slog.Logger) *podTracker {
	t := &podTracker{c: c, ns: ns, poll: poll, log: log, pods: map[string]trackedPod{}, changed: make(chan struct{})}
	if t.poll <= 0 {
		t.poll = defaultPollInterval
	}
	if r.Selector == "" {
		t.byName = true
		t.query = url.Values{"fieldSelector": {"metadata.name=" + r.Pod.Name}}
	} else {
		t.query = url.Values{"labelSelector": {r.Selector}}
	}
	return t
}

// run keeps the pods current until ctx ends. The first list has been done
// by the caller (sync), and rv is its resourceVersion.
func (t *podTracker) run(ctx context.Context, rv string) {
	canWatch := true
	failures := 0
	backoff := func() bool {
		failures++
		return sleepCtx(ctx, min(trackerRetry<<min(failures, 10), reconnectCap))
	}
	for ctx.Err() == nil {
		if canWatch && rv != "" {
			started := time.Now()
			next, err := t.watch(ctx, rv)
			var ae *APIError
			switch {
			case ctx.Err() != nil:
				return
			case err == nil: // the server ended the watch: resume it
				rv = next
				// A server that ends every watch at once must not make
				// this loop spin.
				if time.Since(started) < time.Second && !sleepCtx(ctx, t.poll) {
					return
				}
				continue
			case errors.As(err, &ae) && ae.StatusCode == http.StatusGone:
				// rv is too old: list again at once.
			case errors.As(err, &ae):
				// The server or the role cannot watch: poll instead.
				canWatch = false
				t.log.Info("port-forward: the server cannot watch pods; listing them every interval instead", "interval", t.poll, "err", err)
			default:
				t.log.Debug("port-forward: pod watch ended", "err", err)
				if !backoff() {
					return
				}
			}
		} else if !sleepCtx(ctx, t.poll) {
			return
		}
		var err error
		if rv, err = t.sync(ctx); err != nil {
			t.log.Debug("port-forward: list pods", "err", err)
			if !backoff() {
				return
			}
			continue
		}
		failures = 0
	}
}

// sync lists the pods and replaces the tracked set; it returns the list's
// resourceVersion.
func (t *podTracker) sync(ctx context.Context) (string, error) {
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []json.RawMessage `json:"items"`
	}
	path := "/api/v1/namespaces/" + url.PathEscape(t.ns) + "/pods?" + t.query.Encode()
	if err := t.c.getJSON(ctx, path, &list); err != nil {
		return "", err
	}
	pods := make(map[string]trackedPod, len(list.Items))
	for _, raw := range list.Items {
		tp, err := decodeTracked(raw)
		if err != nil {
			return "", err
		}
		pods[tp.pod.Name] = tp
	}
	t.mu.Lock()
	t.pods = pods
	t.changedLocked()
	t.mu.Unlock()
	return list.Metadata.ResourceVersion, nil
}

// watch streams pod events from rv until the server ends the stream (nil)
// or something fails; it returns the last resourceVersion seen. A
// non-2xx answer is an *APIError; an expired rv is one with status 410.
func (t *podTracker) watch(ctx context.Context, rv string) (string, error) {
	q := url.Values{}
	for k, v := range t.query {
		q[k] = v
	}
	q.Set("watch", "1")
	q.Set("resourceVersion", rv)
	q.Set("allowWatchBookmarks", "true")
	q.Set("timeoutSeconds", strconv.Itoa(int(watchTimeout/time.Second)))
	u := t.c.url("/api/v1/namespaces/"+url.PathEscape(t.ns)+"/pods", q)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return rv, err
	}
	if req.Header, err = t.c.header(ctx); err != nil {
		return rv, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := t.c.httpClient(u).Do(req)
	if err != nil {
		return rv, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxRESTBody))
		return rv, &APIError{StatusCode: resp.StatusCode, Message: fmt.Sprintf("watch pods: %s: %s", resp.Status, b)}
	}
	return t.readEvents(resp.Body, rv)
}

// readEvents applies a watch stream's events (JSON objects, one after
// another, as the API server writes them) until it ends (nil) or holds
// something wrong; it returns the last resourceVersion seen.
func (t *podTracker) readEvents(r io.Reader, rv string) (string, error) {
	body := &eventLimit{r: r}
	dec := json.NewDecoder(body)
	for {
		body.n = 0
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return rv, nil
			}
			return rv, fmt.Errorf("watch pods: %w", err)
		}
		switch ev.Type {
		case "ADDED", "MODIFIED", "DELETED":
			tp, err := decodeTracked(ev.Object)
			if err != nil {
				return rv, err
			}
			t.mu.Lock()
			pods := maps.Clone(t.pods) // readers hold the old map
			if ev.Type == "DELETED" {
				delete(pods, tp.pod.Name)
			} else {
				pods[tp.pod.Name] = tp
			}
			t.pods = pods
			t.changedLocked()
			t.mu.Unlock()
			rv = tp.pod.ResourceVersion
		case "BOOKMARK":
			var m struct {
				Metadata struct {
					ResourceVersion string `json:"resourceVersion"`
				} `json:"metadata"`
			}
			if json.Unmarshal(ev.Object, &m) == nil && m.Metadata.ResourceVersion != "" {
				rv = m.Metadata.ResourceVersion
			}
		case "ERROR":
			var st struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(ev.Object, &st)
			if st.Code == 0 {
				st.Code = http.StatusGone
			}
			return "", &APIError{StatusCode: st.Code, Message: "watch pods: " + st.Message}
		default:
			return rv, fmt.Errorf("watch pods: unknown event type %q", ev.Type)
		}
	}
}

// eventLimit fails a read once one event has taken maxWatchEvent bytes.
type eventLimit struct {
	r io.Reader
	n int
}

func (l *eventLimit) Read(p []byte) (int, error) {
	if l.n >= maxWatchEvent {
		return 0, fmt.Errorf("watch event larger than %d bytes", maxWatchEvent)
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

// decodeTracked reads a pod document with the one field kube.Pod leaves
// out.
func decodeTracked(raw []byte) (trackedPod, error) {
	var p kube.Pod
	var meta struct {
		Metadata struct {
			DeletionTimestamp *string `json:"deletionTimestamp"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return trackedPod{}, fmt.Errorf("decode pod: %w", err)
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return trackedPod{}, fmt.Errorf("decode pod: %w", err)
	}
	if p.Name == "" {
		return trackedPod{}, errors.New("decode pod: no name")
	}
	return trackedPod{pod: &p, deleting: meta.Metadata.DeletionTimestamp != nil}, nil
}

func (t *podTracker) changedLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// state returns the pods, a map never written once published (changes
// replace it), and the channel closed at the next change.
func (t *podTracker) state() (map[string]trackedPod, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pods, t.changed
}

// running: the pod may take new connections, readiness aside.
func (tp trackedPod) running() bool {
	return !tp.deleting && tp.pod.Status.Phase == "Running"
}

// goneReason says why the pod name with uid can take no more new
// connections, or "" while it can: it is deleted, terminating, replaced
// (another uid), no longer running, or, following a workload, not ready
// while another of its pods is.
func (t *podTracker) goneReason(name, uid string) string {
	pods, _ := t.state()
	tp, ok := pods[name]
	switch {
	case !ok:
		return "deleted"
	case tp.deleting:
		return "terminating"
	case uid != "" && tp.pod.UID != uid:
		return "replaced"
	case tp.pod.Status.Phase != "Running":
		return "phase " + tp.pod.Status.Phase
	case t.byName || ready(tp.pod):
		return ""
	}
	for _, o := range pods {
		if o.pod.Name != name && o.running() && ready(o.pod) {
			return "not ready"
		}
	}
	return ""
}

// pick waits for the pod new connections should go to: for a pod target,
// a running pod of that name; otherwise the most active running, ready pod
// (kubectl's order).
func (t *podTracker) pick(ctx context.Context) (*kube.Pod, error) {
	for {
		pods, changed := t.state()
		var cands []*kube.Pod
		for _, tp := range pods {
			if tp.running() && (t.byName || ready(tp.pod)) {
				cands = append(cands, tp.pod)
			}
		}
		if len(cands) > 0 {
			sort.SliceStable(cands, func(i, j int) bool {
				if moreActive(cands[i], cands[j]) != moreActive(cands[j], cands[i]) {
					return moreActive(cands[i], cands[j])
				}
				return cands[i].Name < cands[j].Name
			})
			return cands[0], nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// sleepCtx sleeps for d, or less when ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
