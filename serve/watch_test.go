package serve

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// watchLines GETs a watch path and returns its status, Content-Type and
// lines; the watch must end by itself (timeoutSeconds) within 10s.
func watchLines(t *testing.T, h http.Handler, path, accept string) (int, string, []string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Accept", accept)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read watch: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), lines
}

type rawEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

func decodeEvents(t *testing.T, lines []string) []rawEvent {
	t.Helper()
	out := make([]rawEvent, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &out[i]); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
	}
	return out
}

// TestWatchJSON: a watch from 0 with a label selector starts with ADDED
// for each selected pod (whole objects, kind included), one JSON object a
// line, and ends cleanly at timeoutSeconds.
func TestWatchJSON(t *testing.T) {
	start := time.Now()
	code, ct, lines := watchLines(t, testAPI(t, nil), "/api/v1/pods?watch=1&resourceVersion=0&labelSelector=app+in+(web,api)&timeoutSeconds=1", "application/json")
	if code != 200 || ct != "application/json" {
		t.Fatalf("status %d %q", code, ct)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("watch lasted %s, want about timeoutSeconds=1", d)
	}
	evs := decodeEvents(t, lines)
	var names []string
	for _, e := range evs {
		var p kube.Pod
		json.Unmarshal(e.Object, &p)
		if e.Type != "ADDED" || p.Kind != "Pod" || p.APIVersion != "v1" || p.ResourceVersion == "" {
			t.Errorf("event %s %s/%s rv %q", e.Type, p.Kind, p.Name, p.ResourceVersion)
		}
		names = append(names, p.Namespace+"/"+p.Name)
	}
	if strings.Join(names, " ") != "apps/api default/web" {
		t.Errorf("watched %v, want apps/api default/web", names)
	}
}

// TestWatchTable: kubectl get -w's Table watch: one-row Tables, the
// column definitions in the first event only; sendInitialEvents ends the
// initial events with the annotated BOOKMARK.
func TestWatchTable(t *testing.T) {
	_, _, lines := watchLines(t, testAPI(t, nil), "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1", tableAccept)
	evs := decodeEvents(t, lines)
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2: %q", len(evs), lines)
	}
	for i, e := range evs {
		var tb struct {
			Kind, APIVersion  string
			ColumnDefinitions []kube.TableColumnDefinition
			Rows              []kube.TableRow
		}
		json.Unmarshal(e.Object, &tb)
		if e.Type != "ADDED" || tb.Kind != "Table" || tb.APIVersion != "meta.k8s.io/v1" || len(tb.Rows) != 1 {
			t.Errorf("event %d: %s %s %d rows", i, e.Type, tb.Kind, len(tb.Rows))
		}
		if (i == 0) != (len(tb.ColumnDefinitions) == 9) || (i > 0 && !strings.Contains(lines[i], `"columnDefinitions":null`)) {
			t.Errorf("event %d: %d column definitions", i, len(tb.ColumnDefinitions))
		}
	}

	_, _, lines = watchLines(t, testAPI(t, nil), "/api/v1/namespaces/apps/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1", "application/json")
	evs = decodeEvents(t, lines)
	if len(evs) != 2 || evs[0].Type != "ADDED" || evs[1].Type != "BOOKMARK" {
		t.Fatalf("events %q", lines)
	}
	var bm struct {
		Kind     string
		Metadata struct {
			ResourceVersion string
			Annotations     map[string]string
		}
	}
	json.Unmarshal(evs[1].Object, &bm)
	if bm.Kind != "Pod" || bm.Metadata.ResourceVersion == "" || bm.Metadata.Annotations["k8s.io/initial-events-end"] != "true" {
		t.Errorf("bookmark %s", evs[1].Object)
	}
}

// TestStaticWatch: watches of the node, which porthole makes up and never
// changes (kubectl get nodes -w), and of the namespaces (kubectl get ns
// -w): ADDED for each selected object from the start, as objects or
// one-row Tables, none of the node when resuming from a resourceVersion
// (the namespaces' changes since it, in order), the initial-events
// bookmark when asked; each ends at timeoutSeconds.
func TestStaticWatch(t *testing.T) {
	h := testAPI(t, nil)
	for _, tt := range []struct {
		path, accept string
		want         []string // type and name (Table: of the row), and column definitions of a Table
	}{
		{"/api/v1/nodes?watch=1", "application/json", []string{"ADDED Node porthole"}},
		{"/api/v1/nodes?watch=1&resourceVersion=0&fieldSelector=metadata.name%3Dporthole", "application/json", []string{"ADDED Node porthole"}},
		{"/api/v1/nodes?watch=1&labelSelector=node-role.kubernetes.io%2Fcontrol-plane", "application/json", nil},
		{"/api/v1/nodes?watch=1&resourceVersion=1", "application/json", nil},
		{"/api/v1/nodes?watch=1", tableAccept, []string{"ADDED Table porthole 10"}},
		{"/api/v1/nodes?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", "application/json",
			[]string{"ADDED Node porthole", "BOOKMARK Node  rv=1 initial-events-end"}},
		{"/api/v1/namespaces?watch=1", "application/json", []string{"ADDED Namespace apps", "ADDED Namespace batch", "ADDED Namespace default",
			"ADDED Namespace kube-node-lease", "ADDED Namespace kube-public", "ADDED Namespace kube-system"}},
		{"/api/v1/namespaces?watch=1&resourceVersion=4", "application/json", []string{"ADDED Namespace kube-system",
			"ADDED Namespace apps", "ADDED Namespace batch"}},
		{"/api/v1/namespaces?watch=1&fieldSelector=metadata.name%3Dapps", "application/json", []string{"ADDED Namespace apps"}},
		{"/api/v1/namespaces?watch=1", tableAccept, []string{"ADDED Table apps 3", "ADDED Table batch 0", "ADDED Table default 0",
			"ADDED Table kube-node-lease 0", "ADDED Table kube-public 0", "ADDED Table kube-system 0"}},
	} {
		start := time.Now()
		code, ct, lines := watchLines(t, h, tt.path+"&timeoutSeconds=1", tt.accept)
		if code != 200 || ct != "application/json" {
			t.Errorf("%s: status %d %q %q", tt.path, code, ct, lines)
			continue
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("%s: ended after %s, want timeoutSeconds=1", tt.path, d)
		}
		var got []string
		for _, e := range decodeEvents(t, lines) {
			var o struct {
				Kind     string
				Metadata struct {
					Name, ResourceVersion string
					Annotations           map[string]string
				}
				ColumnDefinitions []kube.TableColumnDefinition
				Rows              []struct{ Cells []any }
			}
			if err := json.Unmarshal(e.Object, &o); err != nil {
				t.Fatalf("%s: %v", tt.path, err)
			}
			s := e.Type + " " + o.Kind + " " + o.Metadata.Name
			switch {
			case o.Kind == "Table" && len(o.Rows) == 1:
				s = fmt.Sprintf("%s %s %v %d", e.Type, o.Kind, o.Rows[0].Cells[0], len(o.ColumnDefinitions))
			case e.Type == "BOOKMARK":
				s += " rv=" + o.Metadata.ResourceVersion
				if o.Metadata.Annotations["k8s.io/initial-events-end"] == "true" {
					s += " initial-events-end"
				}
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s (%s):\n got %q\nwant %q", tt.path, tt.accept, got, tt.want)
		}
	}
}

// TestWatchErrorEvent: the 410 ERROR event is the API server's Status.
func TestWatchErrorEvent(t *testing.T) {
	rec := httptest.NewRecorder()
	enc := newWatchEncoder(rec, nil, nil, podKind, negotiation{})
	enc.write(watchEvent{Type: "ERROR", Object: expired("too old resource version: 5 (10)")})
	want := `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (10)","reason":"Expired","code":410}}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("got  %s\nwant %s", rec.Body, want)
	}
}

// TestWatchEndsOnShutdown: a running watch ends cleanly (EOF after its
// last complete event) as soon as the server shuts down, a watch of the
// node too, and Run returns without waiting out the shutdown grace for
// them.
func TestWatchEndsOnShutdown(t *testing.T) {
	s, stop := startServer(t, Options{ShutdownTimeout: 30 * time.Second})
	waitDemo(t, s)
	var watches []*bufio.Scanner
	for _, path := range []string{"/api/v1/namespaces/default/pods?watch=1", "/api/v1/nodes?watch=1"} {
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		if !sc.Scan() || !strings.Contains(sc.Text(), `"type":"ADDED"`) {
			t.Fatalf("%s: first event %q, %v", path, sc.Text(), sc.Err())
		}
		watches = append(watches, sc)
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	for _, sc := range watches {
		for sc.Scan() {
			var e rawEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("event after shutdown %q: %v", sc.Text(), err)
			}
		}
		if err := sc.Err(); err != nil {
			t.Errorf("watch stream ended with %v, want a clean end", err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %s with a watch open", d)
	}
}
