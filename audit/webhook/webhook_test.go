package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/audit/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiver is an audit webhook endpoint that keeps the EventLists it got;
// fail answers 500 to that many first POSTs.
type receiver struct {
	mu    sync.Mutex
	lists []map[string]any
	posts atomic.Int32
	fail  int32
	block chan struct{} // when set, each POST waits for it to close
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	n := r.posts.Add(1)
	if r.block != nil {
		<-r.block
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	if n <= r.fail {
		http.Error(w, "not now", http.StatusInternalServerError)
		return
	}
	b, _ := io.ReadAll(req.Body)
	var list map[string]any
	if err := json.Unmarshal(b, &list); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.lists = append(r.lists, list)
	r.mu.Unlock()
}

// items returns every event received, in order.
func (r *receiver) items() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, l := range r.lists {
		for _, it := range l["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 123456000, time.UTC)

func sessionEvents(id string) []audit.Event {
	exit := 3
	base := audit.Event{ID: id, User: "alice", Groups: []string{"dev", "system:authenticated"}, Source: "127.0.0.1:5555",
		Verb: "exec", Namespace: "default", Pod: "p", Container: "c", Command: []string{"sh", "-c", "exit 3"}, TTY: true,
		WireIn: "websocket", WireOut: "websocket"}
	start, end := base, base
	start.Time, start.Stage = t0, audit.StageStart
	end.Time, end.Stage, end.Duration, end.Outcome, end.ExitCode = t0.Add(1500*time.Millisecond), audit.StageEnd, "1.500s", "ok", &exit
	end.BytesIn, end.BytesOut = 10, 20
	return []audit.Event{start, end}
}

func closeWebhook(t *testing.T, w *webhook.Webhook) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEventListShape: a session's start and end arrive as one
// audit.k8s.io/v1 EventList with the API server's fields.
func TestEventListShape(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	w, err := webhook.New(&webhook.Options{URL: srv.URL, BatchMaxWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sessionEvents("s1") {
		if err := w.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the batch", func() bool { return len(rcv.items()) == 2 })
	closeWebhook(t, w)
	rcv.mu.Lock()
	list := rcv.lists[0]
	rcv.mu.Unlock()
	if list["kind"] != "EventList" || list["apiVersion"] != "audit.k8s.io/v1" {
		t.Errorf("list kind %v apiVersion %v", list["kind"], list["apiVersion"])
	}
	got, _ := json.Marshal(rcv.items())
	want := `[{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"s1","stage":"ResponseStarted",` +
		`"requestURI":"/api/v1/namespaces/default/pods/p/exec?command=sh\u0026command=-c\u0026command=exit+3\u0026container=c\u0026tty=true",` +
		`"verb":"create","user":{"username":"alice","groups":["dev","system:authenticated"]},"sourceIPs":["127.0.0.1"],` +
		`"objectRef":{"resource":"pods","namespace":"default","name":"p","apiVersion":"v1","subresource":"exec"},` +
		`"responseStatus":{"metadata":{},"code":101},` +
		`"requestReceivedTimestamp":"2026-12-04T12:00:00.123456Z","stageTimestamp":"2026-12-04T12:00:00.123456Z",` +
		`"annotations":{"porthole.dev/container":"c","porthole.dev/tty":"true","porthole.dev/wire-in":"websocket","porthole.dev/wire-out":"websocket"}},` +
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"s1","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/default/pods/p/exec?command=sh\u0026command=-c\u0026command=exit+3\u0026container=c\u0026tty=true",` +
		`"verb":"create","user":{"username":"alice","groups":["dev","system:authenticated"]},"sourceIPs":["127.0.0.1"],` +
		`"objectRef":{"resource":"pods","namespace":"default","name":"p","apiVersion":"v1","subresource":"exec"},` +
		`"responseStatus":{"metadata":{},"status":"Success","code":101},` +
		`"requestReceivedTimestamp":"2026-12-04T12:00:00.123456Z","stageTimestamp":"2026-12-04T12:00:01.623456Z",` +
		`"annotations":{"porthole.dev/bytes-in":"10","porthole.dev/bytes-out":"20","porthole.dev/container":"c","porthole.dev/duration":"1.500s",` +
		`"porthole.dev/exit-code":"3","porthole.dev/outcome":"ok","porthole.dev/tty":"true","porthole.dev/wire-in":"websocket","porthole.dev/wire-out":"websocket"}}]`
	var gotV, wantV any
	json.Unmarshal(got, &gotV)
	if err := json.Unmarshal([]byte(want), &wantV); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
}

// TestRetriedUntilDelivered: failed POSTs are retried; the batch arrives
// once.
func TestRetriedUntilDelivered(t *testing.T) {
	rcv := &receiver{fail: 2}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var dropped atomic.Int32
	w, err := webhook.New(&webhook.Options{URL: srv.URL, BatchMaxWait: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond,
		Dropped: func(n int) { dropped.Add(int32(n)) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sessionEvents("s1") {
		w.Record(e)
	}
	waitFor(t, "delivery", func() bool { return len(rcv.items()) == 2 })
	closeWebhook(t, w)
	if p := rcv.posts.Load(); p != 3 {
		t.Errorf("%d POSTs, want 2 refused and 1 taken", p)
	}
	if d := dropped.Load(); d != 0 {
		t.Errorf("%d dropped", d)
	}
}

// TestNeverBlocks: with the endpoint hanging, Record returns at once; the
// events beyond the queue are dropped and counted, and Close is bounded.
func TestNeverBlocks(t *testing.T) {
	rcv := &receiver{block: make(chan struct{})}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	defer close(rcv.block) // before srv.Close, which waits for handlers
	var dropped atomic.Int32
	w, err := webhook.New(&webhook.Options{URL: srv.URL, QueueSize: 10, BatchMaxSize: 5, BatchMaxWait: time.Millisecond,
		Dropped: func(n int) { dropped.Add(int32(n)) }})
	if err != nil {
		t.Fatal(err)
	}
	waitStart := time.Now()
	for i := range 1000 {
		if err := w.Record(audit.Event{ID: "s", Time: t0.Add(time.Duration(i))}); err != nil {
			t.Fatal(err)
		}
	}
	full := int(dropped.Load())
	if d := time.Since(waitStart); d > 2*time.Second {
		t.Errorf("1000 Records took %v with the endpoint hanging", d)
	}
	// At most a batch in flight and a full queue were taken.
	if full < 1000-15 {
		t.Errorf("%d refused, want at least %d", full, 1000-15)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); err == nil || !strings.Contains(err.Error(), "not sent before shutdown") {
		t.Errorf("close with the endpoint hanging: %v", err)
	}
	if d := dropped.Load(); d != 1000 {
		t.Errorf("dropped %d, want all 1000 (none was delivered)", d)
	}
}

func TestURLChecked(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://audit.example.com/x", "plain http beyond loopback"},
		{"ftp://127.0.0.1/x", "scheme must be https or http"},
		{"/path", "want https://host"},
	} {
		if _, err := webhook.New(&webhook.Options{URL: tc.url}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
	for _, u := range []string{"https://audit.example.com/x", "http://127.0.0.1:1/x", "http://[::1]:1/x"} {
		w, err := webhook.New(&webhook.Options{URL: u})
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		closeWebhook(t, w)
	}
}
