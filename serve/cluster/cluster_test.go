package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// fakeRuntime runs nothing: every pod it is given is Running and Ready at
// once; removal takes effect at once. It counts calls.
type fakeRuntime struct {
	mu      sync.Mutex
	pods    map[key]*kube.Pod
	changed chan struct{}
	removed []string
	unready bool             // new pods start not ready
	clock   func() time.Time // when set, dates Ready transitions
	ops     []string         // "add name" and "remove name", in order
	gate    chan struct{}    // when set, removals wait for it to close
}

func newFake(pods ...*kube.Pod) *fakeRuntime {
	f := &fakeRuntime{pods: map[key]*kube.Pod{}, changed: make(chan struct{})}
	for _, p := range pods {
		f.AddPod(p)
	}
	return f
}

func (f *fakeRuntime) Pod(_ context.Context, ns, name string) (*kube.Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pods[key{ns, name}]
	if !ok {
		return nil, fmt.Errorf("pod %s/%s: %w", ns, name, node.ErrNotFound)
	}
	return clone(p), nil
}

func (f *fakeRuntime) AddPod(in *kube.Pod) error {
	p := clone(in)
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	f.mu.Lock()
	f.ops = append(f.ops, "add "+p.Name)
	p.Status = kube.PodStatus{Phase: "Running", Conditions: []kube.PodCondition{{Type: "Ready", Status: map[bool]string{true: "False", false: "True"}[f.unready], LastTransitionTime: f.nowLocked()}}}
	f.pods[key{p.Namespace, p.Name}] = p
	f.mu.Unlock()
	f.notify()
	return nil
}

func (f *fakeRuntime) RemovePodGrace(ns, name string, grace time.Duration) error {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	delete(f.pods, key{ns, name})
	f.removed = append(f.removed, name)
	f.ops = append(f.ops, "remove "+name)
	f.mu.Unlock()
	f.notify()
	return nil
}

// setReady flips a pod's Ready condition, as a probe would.
func (f *fakeRuntime) setReady(ns, name string, ready bool) {
	f.mu.Lock()
	p := f.pods[key{ns, name}]
	p.Status.Conditions = []kube.PodCondition{{Type: "Ready", Status: map[bool]string{true: "True", false: "False"}[ready], LastTransitionTime: f.nowLocked()}}
	f.mu.Unlock()
	f.notify()
}

// nowLocked is the time of a change: the fake's clock's, if it has one.
func (f *fakeRuntime) nowLocked() string {
	if f.clock == nil {
		return timestamp(time.Now())
	}
	return timestamp(f.clock())
}

func (f *fakeRuntime) notify() {
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeRuntime) Changes() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func deployment(name string, replicas int32) *kube.Deployment {
	return &kube.Deployment{
		ObjectMeta: kube.ObjectMeta{Name: name},
		Spec: kube.DeploymentSpec{
			Replicas: &replicas,
			Selector: &kube.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: kube.PodTemplateSpec{
				ObjectMeta: kube.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       kube.PodSpec{Containers: []kube.Container{{Name: "c"}}},
			},
		},
	}
}

func startCluster(t *testing.T, rt PodSource, objs Objects, opts ...Option) *Cluster {
	t.Helper()
	c, err := New(rt, objs, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		c.Wait()
	})
	return c
}

// web is the Deployment default/web as stored now.
func web(c *Cluster) *kube.Deployment {
	o, _ := c.Get(Deployments, "default", "web")
	return o.(*kube.Deployment)
}

// revisions are the ReplicaSets in default as "revision=replicas", sorted
// and joined by spaces ("1=3 2=2").
func revisions(c *Cluster) string {
	objs, _ := c.List(ReplicaSets, "default", nil)
	var out []string
	for _, o := range objs {
		rs := o.(*kube.ReplicaSet)
		out = append(out, fmt.Sprintf("%s=%d", rs.Annotations[revisionAnnotation], kube.Replicas(rs.Spec.Replicas)))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// waitFor polls cond until it holds; bounded by the test's deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a state, not ordering events
	}
}

func podNames(c *Cluster, sel string) []string {
	s, _ := kube.ParseLabelSelector(sel)
	items, _ := c.List(Pods, "default", func(o Object) bool { return s.Matches(kube.Label(o.Meta().Labels)) })
	var names []string
	for _, o := range items {
		if o.Meta().DeletionTimestamp == "" {
			names = append(names, o.Meta().Name)
		}
	}
	return names
}

// next takes the watcher's next event within a bound.
func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case e := <-w.Events():
		return e
	case <-w.Done():
		t.Fatalf("watch ended: %v", w.Err())
	case <-time.After(10 * time.Second):
		t.Fatal("no event in 10s")
	}
	return Event{}
}

// TestDeploymentPodsReplaced: a Deployment makes one ReplicaSet and its
// pods; a deleted pod is marked, replaced under a new name, then gone, and
// a watch from the list's resourceVersion sees exactly that.
func TestDeploymentPodsReplaced(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{deployment("web", 2)}})
	waitFor(t, "2 ready replicas", func() bool {
		o, _ := c.Get(Deployments, "default", "web")
		return o.(*kube.Deployment).Status.ReadyReplicas == 2
	})
	rss, _ := c.List(ReplicaSets, "", nil)
	if len(rss) != 1 {
		t.Fatalf("%d replica sets", len(rss))
	}
	rs := rss[0].(*kube.ReplicaSet)
	sel, _ := kube.ParseLabelSelector("app=web")
	items, rv := c.List(Pods, "default", func(o Object) bool { return sel.Matches(kube.Label(o.Meta().Labels)) })
	if len(items) != 2 {
		t.Fatalf("%d pods", len(items))
	}
	for _, o := range items {
		p := o.(*kube.Pod)
		if ref := p.ControllerOf(); ref == nil || ref.UID != rs.UID || p.GenerateName != rs.Name+"-" || p.Labels["pod-template-hash"] != rs.Labels["pod-template-hash"] {
			t.Errorf("pod %s: owner %+v, labels %v", p.Name, ref, p.Labels)
		}
	}
	first, w, err := c.Watch(Pods, WatchOptions{Namespace: "default", Match: func(o Object) bool { return sel.Matches(kube.Label(o.Meta().Labels)) }, ResourceVersion: rv})
	if err != nil || len(first) != 0 {
		t.Fatalf("Watch: %v, %d first events", err, len(first))
	}
	defer w.Stop()
	victim := items[0].Meta().Name
	d, err := c.DeletePod("default", victim, 30)
	if err != nil || d.DeletionTimestamp == "" || *d.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("DeletePod: %v %+v", err, d)
	}
	seen := map[string][]string{}
	var last uint64
	atoi := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	for !slices.Contains(seen[victim], "DELETED") || len(seen) < 2 || !slices.Contains(seen[newest(seen, victim)], "MODIFIED") {
		e := next(t, w)
		if e.RV <= last || atoi(e.Object.Meta().ResourceVersion) != e.RV {
			t.Fatalf("event rv %d (object %s) after %d", e.RV, e.Object.Meta().ResourceVersion, last)
		}
		last = e.RV
		seen[e.Object.Meta().Name] = append(seen[e.Object.Meta().Name], e.Type)
	}
	if got := seen[victim]; !slices.Equal(got, []string{"MODIFIED", "DELETED"}) {
		t.Errorf("victim events %v, want MODIFIED DELETED", got)
	}
	repl := newest(seen, victim)
	if seen[repl][0] != "ADDED" {
		t.Errorf("replacement %s events %v, want ADDED first", repl, seen[repl])
	}
	names := podNames(c, "app=web")
	if len(names) != 2 || slices.Contains(names, victim) || !slices.Contains(names, repl) {
		t.Errorf("pods after delete: %v (victim %s, replacement %s)", names, victim, repl)
	}
	if _, err := c.DeletePod("default", victim, 30); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete again: %v, want ErrNotFound", err)
	}
}

// newest is a name in seen other than the original pods': the one whose
// first event is ADDED.
func newest(seen map[string][]string, not string) string {
	for n, evs := range seen {
		if n != not && evs[0] == "ADDED" {
			return n
		}
	}
	return ""
}

// TestBarePodDeleted: a pod with no owner is gone for good; grace 0
// removes it at once (one DELETED event, no MODIFIED).
func TestBarePodDeleted(t *testing.T) {
	p := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "solo", Namespace: "default"}, Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c"}}}}
	rt := newFake(p)
	c := startCluster(t, rt, Objects{Pods: []*kube.Pod{p}})
	first, w, err := c.Watch(Pods, WatchOptions{ResourceVersion: "0"})
	if err != nil || len(first) != 1 || first[0].Type != "ADDED" || first[0].Object.Meta().Name != "solo" {
		t.Fatalf("Watch rv 0: %v %+v", err, first)
	}
	defer w.Stop()
	if _, err := c.DeletePod("default", "solo", 0); err != nil {
		t.Fatal(err)
	}
	if e := next(t, w); e.Type != "DELETED" || e.Object.Meta().Name != "solo" {
		t.Fatalf("event %s %s, want DELETED solo", e.Type, e.Object.Meta().Name)
	}
	if _, ok := c.Get(Pods, "default", "solo"); ok {
		t.Error("solo still there")
	}
	waitFor(t, "runtime removal", func() bool {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		return slices.Equal(rt.removed, []string{"solo"})
	})
}

// TestWatchSelectorTransitions: an object that comes to match is ADDED to
// the watch, one that stops matching is DELETED, as the API server's
// watch cache translates them.
func TestWatchSelectorTransitions(t *testing.T) {
	ready := func(o Object) bool { return o.(*kube.Pod).IsReady() }
	w := &Watcher{res: Pods, match: ready}
	mk := func(r bool, rv string) *kube.Pod {
		p := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default", ResourceVersion: rv}}
		p.Status.Conditions = []kube.PodCondition{{Type: "Ready", Status: map[bool]string{true: "True", false: "False"}[r]}}
		return p
	}
	for _, tc := range []struct {
		name       string
		ev         Event
		want       string
		wantObjRV  string
		wantObject bool
	}{
		{"added-match", Event{Type: "ADDED", Resource: Pods, Object: mk(true, "5"), RV: 5}, "ADDED", "5", true},
		{"added-no-match", Event{Type: "ADDED", Resource: Pods, Object: mk(false, "5"), RV: 5}, "", "", false},
		{"modified-both", Event{Type: "MODIFIED", Resource: Pods, Object: mk(true, "6"), Prev: mk(true, "5"), RV: 6}, "MODIFIED", "6", true},
		{"modified-in", Event{Type: "MODIFIED", Resource: Pods, Object: mk(true, "6"), Prev: mk(false, "5"), RV: 6}, "ADDED", "6", true},
		{"modified-out", Event{Type: "MODIFIED", Resource: Pods, Object: mk(false, "6"), Prev: mk(true, "5"), RV: 6}, "DELETED", "6", true},
		{"modified-neither", Event{Type: "MODIFIED", Resource: Pods, Object: mk(false, "6"), Prev: mk(false, "5"), RV: 6}, "", "", false},
		{"other-resource", Event{Type: "ADDED", Resource: Services, Object: mk(true, "5"), RV: 5}, "", "", false},
	} {
		got, ok := w.translate(tc.ev)
		if ok != tc.wantObject || got.Type != tc.want {
			t.Errorf("%s: got %q %v, want %q %v", tc.name, got.Type, ok, tc.want, tc.wantObject)
			continue
		}
		if ok && got.Object.Meta().ResourceVersion != tc.wantObjRV {
			t.Errorf("%s: object rv %s, want %s", tc.name, got.Object.Meta().ResourceVersion, tc.wantObjRV)
		}
	}
	// The DELETED object is a copy: the stored one keeps its version.
	prev := mk(true, "5")
	w.translate(Event{Type: "MODIFIED", Resource: Pods, Object: mk(false, "6"), Prev: prev, RV: 6})
	if prev.ResourceVersion != "5" {
		t.Errorf("translate changed the stored object's version to %s", prev.ResourceVersion)
	}
}

// TestWatchHistory: a watch from any version kept replays exactly the
// later events; one older than the history is Gone; "0" starts with the
// objects that exist.
func TestWatchHistory(t *testing.T) {
	p := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default"}, Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c"}}}}
	rt := newFake(p)
	// Not started: no loop, the test makes every change itself.
	c, err := New(rt, Objects{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	live, _ := rt.Pod(context.Background(), "default", "p")
	c.storeLocked(Pods, "ADDED", live)
	base := c.rv
	for i := range historySize + 10 {
		u := clone(c.objs[Pods][key{"default", "p"}].(*kube.Pod))
		u.Annotations = map[string]string{"n": strconv.Itoa(i)}
		c.storeLocked(Pods, "MODIFIED", u)
	}
	top := c.rv
	c.mu.Unlock()

	first, w, err := c.Watch(Pods, WatchOptions{ResourceVersion: strconv.FormatUint(top-5, 10)})
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	if len(first) != 5 || first[0].RV != top-4 || first[4].RV != top {
		t.Errorf("replay from %d: %d events, %d..%d", top-5, len(first), first[0].RV, first[len(first)-1].RV)
	}
	_, _, err = c.Watch(Pods, WatchOptions{ResourceVersion: strconv.FormatUint(base, 10)})
	var gone *GoneError
	if !errors.As(err, &gone) || gone.Requested != base {
		t.Errorf("watch from %d: %v, want GoneError", base, err)
	}
	oldest := top - historySize
	if _, w, err := c.Watch(Pods, WatchOptions{ResourceVersion: strconv.FormatUint(oldest, 10)}); err != nil {
		t.Errorf("watch from the oldest kept %d: %v", oldest, err)
	} else {
		w.Stop()
	}
	if _, _, err := c.Watch(Pods, WatchOptions{ResourceVersion: strconv.FormatUint(oldest-1, 10)}); !errors.As(err, &gone) {
		t.Errorf("watch from %d: %v, want GoneError", oldest-1, err)
	}
	// Watching from 0 reads the runtime first (the fake has no
	// annotations: one more change), then lists what exists.
	first, w, err = c.Watch(Pods, WatchOptions{ResourceVersion: "0"})
	if err != nil || len(first) != 1 || first[0].Type != "ADDED" || first[0].RV != top+1 || c.ResourceVersion() != strconv.FormatUint(top+1, 10) {
		t.Errorf("watch from 0: %v %+v", err, first)
	}
	w.Stop()
	if _, _, err := c.Watch(Pods, WatchOptions{ResourceVersion: "x"}); err == nil {
		t.Error("watch from x: no error")
	}
}

// TestWatchTooSlow: a watcher that reads nothing is ended once queueSize
// events wait for it, and the cluster keeps no more for it.
func TestWatchTooSlow(t *testing.T) {
	p := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default"}, Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c"}}}}
	c := startCluster(t, newFake(p), Objects{Pods: []*kube.Pod{p}})
	_, w, err := c.Watch(Pods, WatchOptions{ResourceVersion: c.ResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	for i := range queueSize + 1 {
		u := clone(c.objs[Pods][key{"default", "p"}].(*kube.Pod))
		u.Annotations = map[string]string{"n": strconv.Itoa(i)}
		c.storeLocked(Pods, "MODIFIED", u)
	}
	n := len(c.watchers)
	c.mu.Unlock()
	select {
	case <-w.Done():
	default:
		t.Fatal("slow watcher not ended")
	}
	if !errors.Is(w.Err(), ErrTooSlow) || n != 0 || len(w.Events()) != queueSize {
		t.Errorf("err %v, %d watchers left, %d events queued", w.Err(), n, len(w.Events()))
	}
}

// TestRolloutRestart: a patched template annotation makes a new
// ReplicaSet; the old one is scaled to zero once the new pods are ready.
func TestRolloutRestart(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	waitFor(t, "1 ready", func() bool { return len(podNames(c, "app=web")) == 1 })
	old := podNames(c, "app=web")[0]
	d, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-12-04T12:00:00Z"}}}}}`))
	if err != nil || d.Generation != 2 || d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("patch: %v %+v", err, d)
	}
	waitFor(t, "the old pod replaced", func() bool {
		names := podNames(c, "app=web")
		all, _ := c.List(Pods, "default", nil)
		return len(names) == 1 && names[0] != old && len(all) == 1
	})
	rss, _ := c.List(ReplicaSets, "default", nil)
	if len(rss) != 2 {
		t.Fatalf("%d replica sets, want 2", len(rss))
	}
	revisions := map[string]int32{}
	for _, o := range rss {
		rs := o.(*kube.ReplicaSet)
		revisions[rs.Annotations["deployment.kubernetes.io/revision"]] = *rs.Spec.Replicas
	}
	if revisions["1"] != 0 || revisions["2"] != 1 {
		t.Errorf("revisions → replicas %v, want 1→0, 2→1", revisions)
	}
	for _, tc := range []struct{ patch, want string }{
		{`[1]`, "decode patch: a merge patch must be a JSON object"},
		{`{"spec":{"selector":{"matchLabels":{"app":"other"}}}}`, "spec.template.metadata.labels: Invalid value: map[app:web]: `selector` does not match template `labels`"},
		{`{"spec":{"replicas":-1}}`, "spec.replicas: invalid value -1: must be between 0 and 64"},
		{`{"metadata":{"annotations":{"a":"` + strings.Repeat("a", 256<<10) + `"}}}`, "metadata.annotations: Too long: must have at most 262144 bytes"},
	} {
		if _, err := c.PatchDeployment("default", "web", []byte(tc.patch)); err == nil || err.Error() != tc.want {
			t.Errorf("patch %.120s: %v, want %s", tc.patch, err, tc.want)
		}
	}
	if _, err := c.PatchDeployment("default", "nope", []byte(`{}`)); !errors.Is(err, ErrNotFound) {
		t.Errorf("patch nope: %v", err)
	}
}

// TestReadinessCounts: a pod that stops being ready shows in the
// ReplicaSet's and the Deployment's ready counts.
func TestReadinessCounts(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{deployment("web", 2)}})
	ready := func(n int32) func() bool {
		return func() bool {
			o, _ := c.Get(Deployments, "default", "web")
			return o.(*kube.Deployment).Status.ReadyReplicas == n
		}
	}
	waitFor(t, "2 ready", ready(2))
	o, _ := c.Get(Deployments, "default", "web")
	rs, _ := c.List(ReplicaSets, "default", nil)
	complete := fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs[0].Meta().Name)
	checkConditions(t, o.(*kube.Deployment), "True MinimumReplicasAvailable Deployment has minimum availability.", "True NewReplicaSetAvailable "+complete)
	rt.setReady("default", podNames(c, "app=web")[0], false)
	waitFor(t, "1 ready", ready(1))
	o, _ = c.Get(Deployments, "default", "web")
	if st := o.(*kube.Deployment).Status; st.Replicas != 2 || st.AvailableReplicas != 1 || st.UnavailableReplicas != 1 {
		t.Errorf("status %+v", st)
	}
	checkConditions(t, o.(*kube.Deployment), "False MinimumReplicasUnavailable Deployment does not have minimum availability.", "True NewReplicaSetAvailable "+complete)
}

// TestProgressDeadline: a rollout whose new pods do not get ready turns
// Progressing False (ProgressDeadlineExceeded) once its deadline passes
// without progress, while an old pod serves on; progress renews the
// deadline, and ready pods complete the rollout. With no deadline there
// is no Progressing condition, and a deadline must be positive.
func TestProgressDeadline(t *testing.T) {
	rt := newFake()
	d := deployment("web", 2)
	d.Spec.ProgressDeadlineSeconds = ptr(int32(2))
	// Both new pods at once, the old ones serving until they are ready.
	d.Spec.Strategy = &kube.DeploymentStrategy{Type: "RollingUpdate",
		RollingUpdate: &kube.RollingUpdateDeployment{MaxSurge: ptr(kube.FromString("100%")), MaxUnavailable: ptr(kube.FromInt(0))}}
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{d}})
	get := func() *kube.Deployment { return web(c) }
	progressing := func() kube.DeploymentCondition {
		for _, cond := range get().Status.Conditions {
			if cond.Type == "Progressing" {
				return cond
			}
		}
		return kube.DeploymentCondition{}
	}
	waitFor(t, "2 available", func() bool { return get().Status.AvailableReplicas == 2 })
	old := podNames(c, "app=web")
	rt.mu.Lock()
	rt.unready = true
	rt.mu.Unlock()
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 new pods", func() bool { return len(podNames(c, "app=web")) == 4 })
	rss, _ := c.List(ReplicaSets, "default", func(o Object) bool { return o.Meta().Annotations[revisionAnnotation] == "2" })
	if len(rss) != 1 {
		t.Fatalf("%d replica sets of revision 2", len(rss))
	}
	rs := rss[0].Meta().Name
	var fresh []string
	for _, n := range podNames(c, "app=web") {
		if !slices.Contains(old, n) {
			fresh = append(fresh, n)
		}
	}

	// One new pod ready is progress: the deadline counts from it.
	time.Sleep(time.Second) // into the deadline, so the renewal shows
	readyAt := time.Now().Truncate(time.Second)
	rt.setReady("default", fresh[0], true)
	// Three available, one over the two wanted: an old pod goes.
	waitFor(t, "progress", func() bool { st := get().Status; return st.ReadyReplicas == 2 && st.Replicas == 3 })
	renewed := progressing()
	from, _ := time.Parse(time.RFC3339, renewed.LastUpdateTime)
	if renewed.Status != "True" || renewed.Reason != "ReplicaSetUpdated" || renewed.Message != fmt.Sprintf("ReplicaSet %q is progressing.", rs) || from.Before(readyAt) {
		t.Fatalf("after progress at %v: %+v", readyAt, renewed)
	}
	waitFor(t, "the deadline", func() bool { return progressing().Status == "False" })
	checkConditions(t, get(), "True MinimumReplicasAvailable Deployment has minimum availability.",
		fmt.Sprintf("False ProgressDeadlineExceeded ReplicaSet %q has timed out progressing.", rs))
	if at, _ := time.Parse(time.RFC3339, progressing().LastTransitionTime); at.Sub(from) < 2*time.Second {
		t.Errorf("timed out at %v, %v after the progress at %v: before the deadline", at, at.Sub(from), from)
	}
	if got := podNames(c, "app=web"); len(got) != 3 || !slices.Contains(got, fresh[0]) || !slices.Contains(got, fresh[1]) ||
		!slices.Contains(got, old[0]) && !slices.Contains(got, old[1]) {
		t.Errorf("pods after the deadline %v, want both new ones and an old one serving on", got)
	}

	rt.setReady("default", fresh[1], true)
	waitFor(t, "the rollout complete", func() bool { return progressing().Reason == "NewReplicaSetAvailable" })
	checkConditions(t, get(), "True MinimumReplicasAvailable Deployment has minimum availability.",
		fmt.Sprintf("True NewReplicaSetAvailable ReplicaSet %q has successfully progressed.", rs))

	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"progressDeadlineSeconds":2147483647}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no Progressing condition", func() bool { return len(get().Status.Conditions) == 1 })
	var inv *InvalidError
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"progressDeadlineSeconds":0}}`)); !errors.As(err, &inv) ||
		inv.Msg != "spec.progressDeadlineSeconds: Invalid value: 0: must be greater than minReadySeconds" {
		t.Errorf("a deadline of 0: %v", err)
	}
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"progressDeadlineSeconds":null}}`)); err != nil || *get().Spec.ProgressDeadlineSeconds != 600 {
		t.Errorf("a deadline removed: %v, %v, want the default 600", err, *get().Spec.ProgressDeadlineSeconds)
	}
}

// TestDeploymentRecreate: the Recreate strategy removes every old pod
// before the first new one starts, and a strategy porthole does not know,
// or Recreate with rolling-update bounds, is refused.
func TestDeploymentRecreate(t *testing.T) {
	rt := newFake()
	d := deployment("web", 2)
	d.Spec.Strategy = &kube.DeploymentStrategy{Type: "Recreate"}
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{d}})
	get := func() *kube.Deployment { return web(c) }
	waitFor(t, "2 available", func() bool { return get().Status.AvailableReplicas == 2 })
	if st := get().Spec.Strategy; st == nil || st.Type != "Recreate" || st.RollingUpdate != nil {
		t.Fatalf("strategy %+v, want Recreate as given", st)
	}
	old := podNames(c, "app=web")
	rt.mu.Lock()
	rt.ops = nil
	rt.mu.Unlock()
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollout complete", func() bool {
		st := get().Status
		return st.UpdatedReplicas == 2 && st.AvailableReplicas == 2 && st.Replicas == 2 && len(podNames(c, "app=web")) == 2
	})
	rt.mu.Lock()
	ops := slices.Clone(rt.ops)
	rt.mu.Unlock()
	var want []string
	for _, n := range old {
		want = append(want, "remove "+n)
	}
	if len(ops) != 4 || !slices.Equal(slices.Sorted(slices.Values(ops[:2])), want) || !strings.HasPrefix(ops[2], "add ") || !strings.HasPrefix(ops[3], "add ") {
		t.Errorf("runtime operations %q, want the old pods %v removed, then two added", ops, old)
	}
	for _, tt := range []struct{ patch, want string }{
		{`{"spec":{"strategy":{"type":"Blue"}}}`, `spec.strategy: Unsupported value: {"Type":"Blue","RollingUpdate":null}: supported values: "Recreate", "RollingUpdate"`},
		{`{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1}}}}`, "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"},
	} {
		var inv *InvalidError
		if _, err := c.PatchDeployment("default", "web", []byte(tt.patch)); !errors.As(err, &inv) || inv.Msg != tt.want {
			t.Errorf("patch %s: %v, want %s", tt.patch, err, tt.want)
		}
	}
	// Back to a rolling update: the bounds as asked, the API server's
	// default for the one not given.
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}}`)); err != nil {
		t.Fatal(err)
	}
	if st := get().Spec.Strategy; st.Type != "RollingUpdate" || st.RollingUpdate == nil || st.RollingUpdate.MaxSurge.String() != "1" || st.RollingUpdate.MaxUnavailable.String() != "25%" {
		t.Errorf("strategy %+v, want maxSurge 1 and maxUnavailable 25%%", st.RollingUpdate)
	}
}

// TestRollingUpdateBounds: a rolling update of four pods with the API
// server's default bounds (25%: one pod over, one under) moves one pod at
// a time as the new pods get ready, and at no step runs more than five
// pods or fewer than three available ones; it stops where the bounds hold
// it while the new pods are not ready.
func TestRollingUpdateBounds(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{deployment("web", 4)}})
	get := func() *kube.Deployment { return web(c) }
	waitFor(t, "4 available", func() bool { return get().Status.AvailableReplicas == 4 })
	if ru := get().Spec.Strategy.RollingUpdate; ru == nil || ru.MaxSurge.String() != "25%" || ru.MaxUnavailable.String() != "25%" {
		t.Fatalf("rolling update %+v, want the API server's 25%% bounds", ru)
	}
	first, w, err := c.Watch(ReplicaSets, WatchOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan []Event, 1)
	go func() {
		seen := first
		for {
			select {
			case e := <-w.Events():
				seen = append(seen, e)
			case <-w.Done(): // nothing is sent after it: take what is queued
				for len(w.Events()) > 0 {
					seen = append(seen, <-w.Events())
				}
				events <- seen
				return
			}
		}
	}()
	rt.mu.Lock()
	rt.unready = true
	rt.mu.Unlock()
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}}`)); err != nil {
		t.Fatal(err)
	}
	sets := func() (cur, old *kube.ReplicaSet) {
		objs, _ := c.List(ReplicaSets, "default", nil)
		for _, o := range objs {
			if rs := o.(*kube.ReplicaSet); rs.Annotations[revisionAnnotation] == "2" {
				cur = rs
			} else {
				old = rs
			}
		}
		return cur, old
	}
	// Held by the bounds: one pod over (two new, three old), none of the
	// new ready.
	waitFor(t, "two new and three old", func() bool {
		cur, old := sets()
		return cur != nil && kube.Replicas(cur.Spec.Replicas) == 2 && kube.Replicas(old.Spec.Replicas) == 3 && len(podNames(c, "app=web")) == 5
	})
	cur, _ := sets()
	if cur.Annotations[desiredAnnotation] != "4" || cur.Annotations[maxReplicasAnnotation] != "5" {
		t.Errorf("annotations %v, want desired-replicas 4 and max-replicas 5", cur.Annotations)
	}
	for ready := 0; ready < 4; ready++ {
		var fresh string
		waitFor(t, "a new pod to make ready", func() bool {
			for _, n := range podNames(c, "app=web,"+podTemplateHashLabel+"="+cur.Labels[podTemplateHashLabel]) {
				if p, _ := rt.Pod(t.Context(), "default", n); p != nil && !p.IsReady() {
					fresh = n
					return true
				}
			}
			return false
		})
		rt.setReady("default", fresh, true)
	}
	waitFor(t, "the rollout complete", func() bool { return complete(get()) && len(podNames(c, "app=web")) == 4 })
	w.Stop()
	// Every step within the bounds, from the ReplicaSets as each change
	// left them: at most 5 pods asked for, at least 3 available kept.
	state := map[string]*kube.ReplicaSet{}
	for _, e := range <-events {
		rs := e.Object.(*kube.ReplicaSet)
		state[rs.Name] = rs
		var pods, available int32
		for _, rs := range state {
			pods += kube.Replicas(rs.Spec.Replicas)
			available += min(kube.Replicas(rs.Spec.Replicas), rs.Status.AvailableReplicas)
		}
		if pods > 5 || available < 3 {
			t.Errorf("at resource version %d: %d pods, %d available; want at most 5 and at least 3", e.RV, pods, available)
		}
	}
	if len(state) != 2 {
		t.Errorf("%d replica sets seen, want 2", len(state))
	}
}

// TestRollingUpdateHugeSurge: bounds at the int32 limit (maxSurge
// 2147483647, valid to the API server) hold desired+maxSurge at the limit
// rather than wrapping round to a negative count that would stop the
// Deployment from ever running a pod; its rollouts complete.
func TestRollingUpdateHugeSurge(t *testing.T) {
	d := deployment("web", 3)
	d.Spec.Strategy = &kube.DeploymentStrategy{Type: "RollingUpdate",
		RollingUpdate: &kube.RollingUpdateDeployment{MaxSurge: ptr(kube.FromInt(math.MaxInt32)), MaxUnavailable: ptr(kube.FromInt(0))}}
	c := startCluster(t, newFake(), Objects{Deployments: []*kube.Deployment{d}})
	waitFor(t, "3 available", func() bool { return web(c).Status.AvailableReplicas == 3 })
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollout complete", func() bool { return revisions(c) == "1=0 2=3" && complete(web(c)) })
	objs, _ := c.List(ReplicaSets, "default", nil)
	for _, o := range objs {
		if got := o.Meta().Annotations[maxReplicasAnnotation]; got != "2147483647" {
			t.Errorf("%s: max-replicas %q, want 2147483647", o.Meta().Name, got)
		}
	}
}

// TestDeploymentPausedMidway: a rollout paused midway (a canary) stays
// where it is however ready its new pods get; scaling it shares the new
// count out among its ReplicaSets in proportion; resumed, it completes.
func TestDeploymentPausedMidway(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{deployment("web", 4)}})
	get := func() *kube.Deployment { return web(c) }
	sets := func() string { return revisions(c) }
	waitFor(t, "4 available", func() bool { return get().Status.AvailableReplicas == 4 })
	rt.mu.Lock()
	rt.unready = true
	rt.mu.Unlock()
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two new and three old", func() bool { return sets() == "1=3 2=2" && len(podNames(c, "app=web")) == 5 })
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"paused":true}}`)); err != nil {
		t.Fatal(err)
	}
	for _, n := range podNames(c, "app=web") {
		rt.setReady("default", n, true)
	}
	// The status counts every pod ready: the pass that counted them could
	// have scaled, and did not.
	waitFor(t, "5 ready", func() bool { return get().Status.ReadyReplicas == 5 })
	if got := sets(); got != "1=3 2=2" {
		t.Errorf("paused: replica sets (revision=replicas) %s, want 1=3 2=2", got)
	}
	rt.mu.Lock()
	rt.unready = false
	rt.mu.Unlock()
	if _, err := c.ScaleDeployment("default", "web", 6, ""); err != nil {
		t.Fatal(err)
	}
	// Six, and one over (25%), is eight: three more, shared out as the
	// Deployment controller does, in proportion to the eight each was
	// sized for (three of five old: 4.8, five; two of five new: 3.2,
	// three).
	waitFor(t, "the replica sets scaled in proportion", func() bool { return sets() == "1=5 2=3" })
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"paused":false}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollout complete", func() bool { return sets() == "1=0 2=6" && complete(get()) })
}

// TestMinReadySeconds: a Deployment's pods count as available only once
// they have been ready for its minReadySeconds (its ReplicaSet takes the
// value), the controllers wake when that time comes, and the Deployment is
// Available then, not before.
func TestMinReadySeconds(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	rt := newFake()
	rt.clock = clock
	d := deployment("web", 2)
	d.Spec.MinReadySeconds = 10
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{d}}, WithClock(clock))
	get := func() *kube.Deployment { return web(c) }
	waitFor(t, "2 ready", func() bool { return get().Status.ReadyReplicas == 2 })
	// The clock stands still: ready, not yet available.
	if st := get().Status; st.AvailableReplicas != 0 || st.UnavailableReplicas != 2 {
		t.Errorf("status %+v, want none available before 10 s", st)
	}
	rss, _ := c.List(ReplicaSets, "default", nil)
	if len(rss) != 1 || rss[0].(*kube.ReplicaSet).Spec.MinReadySeconds != 10 {
		t.Fatalf("replica sets %v, want one with minReadySeconds 10", rss)
	}
	rs := rss[0].Meta().Name
	checkConditions(t, get(), "False MinimumReplicasUnavailable Deployment does not have minimum availability.",
		fmt.Sprintf("True ReplicaSetUpdated ReplicaSet %q is progressing.", rs))
	c.mu.Lock()
	wake := c.nextDeadlineLocked()
	c.mu.Unlock()
	if want := now.Add(10*time.Second + time.Millisecond); !wake.Equal(want) {
		t.Errorf("the controllers wake at %v, want %v", wake, want)
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	c.wake()
	waitFor(t, "2 available", func() bool { return get().Status.AvailableReplicas == 2 })
	checkConditions(t, get(), "True MinimumReplicasAvailable Deployment has minimum availability.",
		fmt.Sprintf("True NewReplicaSetAvailable ReplicaSet %q has successfully progressed.", rs))
}

// TestCreatePodBounded: created pods run; past MaxPods pods a create is
// refused, as a node's max-pods bounds it.
func TestCreatePodBounded(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{})
	for i := range MaxPods {
		p := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default"},
			Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c"}}}}
		if _, err := c.CreatePod(p); err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
	}
	last := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "last", Namespace: "default"}, Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c"}}}}
	if _, err := c.CreatePod(last); !errors.Is(err, ErrTooManyPods) {
		t.Errorf("pod %d: %v, want ErrTooManyPods", MaxPods+1, err)
	}
	rt.mu.Lock()
	n := len(rt.pods)
	rt.mu.Unlock()
	if n != MaxPods {
		t.Errorf("the runtime runs %d pods, want %d", n, MaxPods)
	}
}

// checkConditions compares d's Available and Progressing conditions, as
// "Status Reason Message", with their times set.
func checkConditions(t *testing.T, d *kube.Deployment, available, progressing string) {
	t.Helper()
	var got []string
	for _, c := range d.Status.Conditions {
		got = append(got, c.Type+" "+c.Status+" "+c.Reason+" "+c.Message)
		if c.LastUpdateTime == "" || c.LastTransitionTime == "" {
			t.Errorf("condition %s has no times: %+v", c.Type, c)
		}
	}
	if want := []string{"Available " + available, "Progressing " + progressing}; !slices.Equal(got, want) {
		t.Errorf("conditions:\n got %q\nwant %q", got, want)
	}
}

// TestReplicaSetAndScale: a ReplicaSet of its own runs its replicas as
// pods it owns; a Deployment patched to more replicas gets them, and to
// fewer loses the surplus.
func TestReplicaSetAndScale(t *testing.T) {
	d := deployment("rs", 2)
	rs := &kube.ReplicaSet{ObjectMeta: d.ObjectMeta, Spec: kube.ReplicaSetSpec{Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, Template: d.Spec.Template}}
	rt := newFake()
	c := startCluster(t, rt, Objects{ReplicaSets: []*kube.ReplicaSet{rs}, Deployments: []*kube.Deployment{deployment("web", 1)}})
	waitFor(t, "2 pods of rs", func() bool { return len(podNames(c, "app=rs")) == 2 })
	o, _ := c.Get(ReplicaSets, "default", "rs")
	for _, n := range podNames(c, "app=rs") {
		p, _ := c.Get(Pods, "default", n)
		if ref := p.Meta().ControllerOf(); ref == nil || ref.Kind != "ReplicaSet" || ref.Name != "rs" || ref.UID != o.Meta().UID {
			t.Errorf("pod %s owner %+v", n, ref)
		}
	}
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"replicas":3}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 pods of web", func() bool { return len(podNames(c, "app=web")) == 3 })
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"replicas":1}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1 pod of web", func() bool {
		all, _ := c.List(Pods, "default", func(o Object) bool { return o.Meta().Labels["app"] == "web" })
		return len(all) == 1
	})
	rss, _ := c.List(ReplicaSets, "default", func(o Object) bool { return o.Meta().Labels["app"] == "web" })
	if len(rss) != 1 {
		t.Errorf("scaling made %d replica sets, want 1", len(rss))
	}
}

// TestScaleDeployment: the scale subresource's write sets the replicas
// under a resourceVersion precondition, and refuses a negative count.
func TestScaleDeployment(t *testing.T) {
	c := startCluster(t, newFake(), Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	// Rolled out: the controllers write no more to it, and the version
	// read is the one the scale is made against.
	var o Object
	waitFor(t, "the rollout", func() bool {
		o, _ = c.Get(Deployments, "default", "web")
		d := o.(*kube.Deployment)
		for _, cond := range d.Status.Conditions {
			if cond.Type == "Progressing" && cond.Reason == "NewReplicaSetAvailable" {
				return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 1
			}
		}
		return false
	})
	rv := o.Meta().ResourceVersion
	d, err := c.ScaleDeployment("default", "web", 3, rv)
	if err != nil || kube.Replicas(d.Spec.Replicas) != 3 || d.Generation != 2 {
		t.Fatalf("scale to 3: %v %+v", err, d)
	}
	waitFor(t, "3 pods", func() bool { return len(podNames(c, "app=web")) == 3 })
	if _, err := c.ScaleDeployment("default", "web", 2, rv); !errors.Is(err, ErrConflict) {
		t.Errorf("scale at a stale resourceVersion: %v, want ErrConflict", err)
	}
	var inv *InvalidError
	if _, err := c.ScaleDeployment("default", "web", -1, ""); !errors.As(err, &inv) || !strings.Contains(inv.Msg, "must be greater than or equal to 0") {
		t.Errorf("scale to -1: %v", err)
	}
	if _, err := c.ScaleDeployment("default", "nope", 1, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("scale a missing deployment: %v", err)
	}
}

// TestDeploymentPaused: a paused Deployment holds a changed template (no
// new ReplicaSet, its pods stay) but scales, says so in its Progressing
// condition, and rolls the template out once resumed.
func TestDeploymentPaused(t *testing.T) {
	c := startCluster(t, newFake(), Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	waitFor(t, "1 pod", func() bool { return len(podNames(c, "app=web")) == 1 })
	first := podNames(c, "app=web")[0]
	sets := func() string { return revisions(c) }
	for _, p := range []string{`{"spec":{"paused":true}}`, `{"spec":{"template":{"spec":{"containers":[{"name":"c","command":["sleep","2"]}]}}}}`} {
		if _, err := c.PatchDeployment("default", "web", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ScaleDeployment("default", "web", 2, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 pods, one of them the first", func() bool {
		names := podNames(c, "app=web")
		return len(names) == 2 && slices.Contains(names, first)
	})
	if got := sets(); got != "1=2" {
		t.Errorf("paused: replica sets (revision=replicas) %s, want 1=2", got)
	}
	o, _ := c.Get(Deployments, "default", "web")
	d := o.(*kube.Deployment)
	if d.Status.UpdatedReplicas != 0 || len(d.Status.Conditions) != 2 || d.Status.Conditions[1].Status != "Unknown" ||
		d.Status.Conditions[1].Reason != "DeploymentPaused" || d.Status.Conditions[1].Message != "Deployment is paused" {
		t.Errorf("paused status: %+v", d.Status)
	}
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"paused":false}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollout once resumed", func() bool { return sets() == "1=0 2=2" })
	waitFor(t, "the first pod gone", func() bool { return !slices.Contains(podNames(c, "app=web"), first) })
}

// TestPatchUnmodeledFields: the fields porthole does not model that a
// patch sets are kept and served back, as the API server keeps them; each
// change is a new generation, and the same patch again changes nothing.
func TestPatchUnmodeledFields(t *testing.T) {
	c := startCluster(t, newFake(), Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	for i, tt := range []struct {
		patch     string
		strategic bool
	}{
		{`{"spec":{"minReadySeconds":5}}`, false},
		{`{"spec":{"template":{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1"}}}]}}}}`, true},
		{`{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}`, false},
		{`{"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"A","value":"1"}]}]}}}}`, true},
	} {
		patch := c.PatchDeployment
		if tt.strategic {
			patch = c.StrategicPatchDeployment
		}
		d, err := patch("default", "web", []byte(tt.patch))
		if err != nil || d.Generation != int64(i+2) {
			t.Errorf("%s: %v, generation %d", tt.patch, err, d.Generation)
		}
	}
	o, _ := c.Get(Deployments, "default", "web")
	d := o.(*kube.Deployment)
	if env := d.Spec.Template.Spec.Containers[0].Env; len(env) != 1 || env[0].Name != "A" {
		t.Errorf("env after the patches: %+v", env)
	}
	got, _ := json.Marshal(specOf(d))
	for _, want := range []string{`"minReadySeconds":5`, `"resources":{"limits":{"cpu":"1"}}`, `"nodeSelector":{"disk":"ssd"}`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("spec %s, want %s kept", got, want)
		}
	}
	// The same again changes nothing.
	if again, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"minReadySeconds":5}}`)); err != nil || again.Generation != d.Generation {
		t.Errorf("the same patch again: %v, generation %d, was %d", err, again.Generation, d.Generation)
	}
}

// TestHistoryBytesBounded: the watch history keeps fewer events when
// their objects pass its byte bound, the newest always; a watch from a
// version it no longer holds is Gone, one from the newest is served.
func TestHistoryBytesBounded(t *testing.T) {
	defer func(n int) { maxHistoryBytes = n }(maxHistoryBytes)
	maxHistoryBytes = 64 << 10
	c := startCluster(t, newFake(), Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	waitFor(t, "1 pod", func() bool { return len(podNames(c, "app=web")) == 1 })
	first := c.ResourceVersion()
	for i := range 20 {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"big":"%d%s"}}}`, i, strings.Repeat("x", 16<<10))
		if _, err := c.PatchDeployment("default", "web", []byte(patch)); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	kept, bytes := len(c.keptLocked()), c.keptBytes
	sum := 0
	for _, e := range c.keptLocked() {
		sum += e.size
	}
	last := c.rv
	c.mu.Unlock()
	if bytes > maxHistoryBytes || sum != bytes || kept < 1 || kept > 4 {
		t.Errorf("history: %d events of %d bytes (counted %d), want at most %d bytes", kept, sum, bytes, maxHistoryBytes)
	}
	var gone *GoneError
	if _, _, err := c.Watch(Deployments, WatchOptions{ResourceVersion: first}); !errors.As(err, &gone) {
		t.Errorf("watch from %s: %v, want Gone", first, err)
	}
	_, w, err := c.Watch(Deployments, WatchOptions{ResourceVersion: fmt.Sprint(last - 1)})
	if err != nil {
		t.Fatalf("watch from the newest but one: %v", err)
	}
	w.Stop()
}

// TestRevisionHistoryLimit: once a rollout completes, the oldest
// ReplicaSets beyond the Deployment's revisionHistoryLimit are deleted,
// as the controller cleans them up; the newest old ones stay for undo.
func TestRevisionHistoryLimit(t *testing.T) {
	rt := newFake()
	d := deployment("web", 1)
	d.Spec.RevisionHistoryLimit = ptr(int32(2))
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{d}})
	revisions := func() []int {
		sets, _ := c.List(ReplicaSets, "default", nil)
		var revs []int
		for _, o := range sets {
			revs = append(revs, atoi(o.Meta().Annotations[revisionAnnotation]))
		}
		slices.Sort(revs)
		return revs
	}
	for v := 2; v <= 5; v++ {
		patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"v":"%d"}}}}}`, v)
		if _, err := c.PatchDeployment("default", "web", []byte(patch)); err != nil {
			t.Fatal(err)
		}
		var want []int // the current revision and at most two old ones
		for r := max(1, v-2); r <= v; r++ {
			want = append(want, r)
		}
		waitFor(t, fmt.Sprintf("revisions %v", want), func() bool { return slices.Equal(revisions(), want) })
	}
	// The default keeps 10.
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"revisionHistoryLimit":null}}`)); err != nil {
		t.Fatal(err)
	}
	o, _ := c.Get(Deployments, "default", "web")
	if n := o.(*kube.Deployment).Spec.RevisionHistoryLimit; n == nil || *n != 10 {
		t.Errorf("revisionHistoryLimit %v after removing it, want the default 10", n)
	}
	// However high the limit, the history is bounded.
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"revisionHistoryLimit":2147483647}}`)); err != nil {
		t.Fatal(err)
	}
	for v := 6; v <= 6+maxRevisionHistory+2; v++ {
		patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"v":"%d"}}}}}`, v)
		if _, err := c.PatchDeployment("default", "web", []byte(patch)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("revision %d complete", v), func() bool {
			o, _ := c.Get(Deployments, "default", "web")
			d := o.(*kube.Deployment)
			return d.Annotations[revisionAnnotation] == strconv.Itoa(v) && complete(d)
		})
	}
	if revs := revisions(); len(revs) != maxRevisionHistory+1 || revs[0] != 6+2 {
		t.Errorf("revisions %v, want the newest %d", revs, maxRevisionHistory+1)
	}
	var inv *InvalidError
	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"revisionHistoryLimit":-1}}`)); !errors.As(err, &inv) ||
		inv.Msg != "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0" {
		t.Errorf("a negative limit: %v", err)
	}
}
