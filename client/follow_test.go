package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// podJSON is a pod document as the API server writes it.
func podJSON(name, uid, rv, phase string, ready, deleting bool) string {
	p := map[string]any{
		"metadata": map[string]any{"name": name, "uid": uid, "resourceVersion": rv},
		"status": map[string]any{"phase": phase, "conditions": []map[string]string{
			{"type": "Ready", "status": map[bool]string{true: "True", false: "False"}[ready]}}},
	}
	if deleting {
		p["metadata"].(map[string]any)["deletionTimestamp"] = "2026-12-04T12:00:00Z"
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func event(typ, obj string) string { return `{"type":"` + typ + `","object":` + obj + "}\n" }

// TestTrackerEvents: a watch stream's events change the tracked set, the
// resourceVersion follows them and bookmarks, an ERROR event is an
// *APIError with its code, and the pod in use is judged gone for each
// reason a forward must leave it.
func TestTrackerEvents(t *testing.T) {
	tr := &podTracker{pods: map[string]trackedPod{}, changed: make(chan struct{})}
	stream := event("ADDED", podJSON("a", "u1", "10", "Running", true, false)) +
		event("ADDED", podJSON("b", "u2", "11", "Running", false, false)) +
		event("BOOKMARK", `{"metadata":{"resourceVersion":"15"}}`)
	rv, err := tr.readEvents(strings.NewReader(stream), "9")
	if err != nil || rv != "15" {
		t.Fatalf("readEvents: rv %q, %v; want 15", rv, err)
	}
	if why := tr.goneReason("a", "u1"); why != "" {
		t.Errorf("a is running and ready, but gone: %q", why)
	}
	if p, err := tr.pick(t.Context()); err != nil || p.Name != "a" {
		t.Errorf("pick: %v, %v; want a (b is not ready)", p, err)
	}
	for _, tc := range []struct {
		events, pod, uid, want string
	}{
		{event("MODIFIED", podJSON("a", "u1", "16", "Running", true, true)), "a", "u1", "terminating"},
		{event("MODIFIED", podJSON("a", "u9", "17", "Running", true, false)), "a", "u1", "replaced"},
		{event("MODIFIED", podJSON("a", "u1", "18", "Succeeded", false, false)), "a", "u1", "phase Succeeded"},
		// Not ready is gone only when another pod is ready.
		{event("MODIFIED", podJSON("a", "u1", "19", "Running", false, false)), "a", "u1", ""},
		{event("MODIFIED", podJSON("b", "u2", "20", "Running", true, false)), "a", "u1", "not ready"},
		{event("DELETED", podJSON("a", "u1", "21", "Running", false, false)), "a", "u1", "deleted"},
	} {
		if _, err := tr.readEvents(strings.NewReader(tc.events), "0"); err != nil {
			t.Fatal(err)
		}
		if why := tr.goneReason(tc.pod, tc.uid); why != tc.want {
			t.Errorf("after %s: gone %q, want %q", strings.TrimSpace(tc.events), why, tc.want)
		}
	}
	// A pod target takes its pod whatever its readiness.
	tr.byName = true
	_, _ = tr.readEvents(strings.NewReader(event("ADDED", podJSON("p", "u3", "22", "Running", false, false))), "0")
	if why := tr.goneReason("p", "u3"); why != "" {
		t.Errorf("pod target not ready: gone %q, want not gone", why)
	}

	_, err = tr.readEvents(strings.NewReader(event("ERROR", `{"kind":"Status","code":410,"message":"too old resource version"}`)), "22")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusGone || !strings.Contains(ae.Message, "too old") {
		t.Errorf("ERROR event: %v, want a 410 APIError", err)
	}
	for _, bad := range []string{`{"type":"ADDED","object":{"metadata":{}}}`, `{"type":"WHAT","object":{}}`, `{"type":`} {
		if _, err := tr.readEvents(strings.NewReader(bad), "1"); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestTrackerPickWaits: pick blocks until a ready pod exists, and takes
// the most active one in kubectl's order.
func TestTrackerPickWaits(t *testing.T) {
	tr := &podTracker{pods: map[string]trackedPod{}, changed: make(chan struct{})}
	got := make(chan *kube.Pod, 1)
	go func() {
		p, _ := tr.pick(context.Background())
		got <- p
	}()
	select {
	case p := <-got:
		t.Fatalf("pick returned %v with no pods", p)
	case <-time.After(50 * time.Millisecond):
	}
	_, _ = tr.readEvents(strings.NewReader(event("ADDED", podJSON("x", "u", "1", "Pending", false, false))+
		event("ADDED", podJSON("y", "u", "2", "Running", true, true))), "0")
	select {
	case p := <-got:
		t.Fatalf("pick returned %v: pending and terminating pods are no choice", p.Name)
	case <-time.After(50 * time.Millisecond):
	}
	_, _ = tr.readEvents(strings.NewReader(event("MODIFIED", podJSON("x", "u", "3", "Running", true, false))), "0")
	select {
	case p := <-got:
		if p.Name != "x" {
			t.Errorf("pick: %s, want x", p.Name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pick did not return once x was ready")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	empty := &podTracker{pods: map[string]trackedPod{}, changed: make(chan struct{})}
	if _, err := empty.pick(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("pick after cancel: %v", err)
	}
}

// FuzzWatchEvents: any stream is applied or refused with an error, never
// a panic, and every pod kept has a name.
func FuzzWatchEvents(f *testing.F) {
	f.Add(event("ADDED", podJSON("a", "u1", "10", "Running", true, false)) + event("DELETED", podJSON("a", "u1", "11", "", false, false)))
	f.Add(event("BOOKMARK", `{"metadata":{"resourceVersion":"15"}}`) + event("ERROR", `{"code":410}`))
	f.Add(`{"type":"MODIFIED","object":{"metadata":{"name":"b","deletionTimestamp":null}}}{"type":"ADDED","object":[]}`)
	f.Fuzz(func(t *testing.T, s string) {
		tr := &podTracker{pods: map[string]trackedPod{}, changed: make(chan struct{})}
		_, _ = tr.readEvents(strings.NewReader(s), "1")
		for name, tp := range tr.pods {
			if name == "" || tp.pod == nil || tp.pod.Name != name {
				t.Fatalf("kept %q: %+v", name, tp)
			}
			_ = tr.goneReason(name, "")
		}
	})
}
