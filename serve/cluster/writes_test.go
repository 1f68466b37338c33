package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// history collects the events of pods, ReplicaSets and Deployments from
// rv on, in the cluster's order (by resourceVersion), as "TYPE resource
// name" with "(deleting)" for an object marked for deletion, until stop
// says the story is complete.
func history(t *testing.T, c *Cluster, rv string, stop func([]string) bool) []string {
	t.Helper()
	var ws []*Watcher
	var evs []Event
	for _, res := range []Resource{Pods, ReplicaSets, Deployments} {
		first, w, err := c.Watch(res, WatchOptions{ResourceVersion: rv})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		ws = append(ws, w)
		evs = append(evs, first...)
	}
	deadline := time.After(10 * time.Second)
	for {
		for _, w := range ws {
			for more := true; more; {
				select {
				case e := <-w.Events():
					evs = append(evs, e)
				default:
					more = false
				}
			}
		}
		slices.SortFunc(evs, func(a, b Event) int { return int(a.RV) - int(b.RV) })
		var lines []string
		for _, e := range evs {
			m := e.Object.Meta()
			line := fmt.Sprintf("%s %s %s", e.Type, e.Resource, m.Name)
			if m.DeletionTimestamp != "" && e.Type != "DELETED" {
				line += " (deleting)"
			}
			if !slices.Contains(lines, line) { // status changes repeat
				lines = append(lines, line)
			}
		}
		if stop(lines) {
			return lines
		}
		select {
		case <-deadline:
			t.Fatalf("events so far:\n%s", strings.Join(lines, "\n"))
		case <-time.After(5 * time.Millisecond): // polling three watches
		}
	}
}

func indexOf(lines []string, prefix string) int {
	return slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// TestCreateDeleteDeployment: a created Deployment rolls out its pods; a
// delete cascades as its policy says, in the garbage collector's order.
func TestCreateDeleteDeployment(t *testing.T) {
	for _, policy := range []Propagation{Background, Foreground, Orphan} {
		t.Run(string(policy), func(t *testing.T) {
			rt := newFake()
			c := startCluster(t, rt, Objects{})
			in := deployment("web", 2)
			in.Namespace = "default"
			in.Finalizers = []string{"example.com/hold"} // not the creator's to set
			d, err := c.CreateDeployment(in)
			if err != nil {
				t.Fatal(err)
			}
			if d.UID == "" || d.Generation != 1 || d.Finalizers != nil || *d.Spec.RevisionHistoryLimit != 10 || d.Spec.Strategy.Type != "RollingUpdate" {
				t.Errorf("created %+v", d)
			}
			waitFor(t, "two pods", func() bool { return len(podNames(c, "app=web")) == 2 })
			pods := podNames(c, "app=web")
			sets, _ := c.List(ReplicaSets, "default", nil)
			if len(sets) != 1 {
				t.Fatalf("%d ReplicaSets", len(sets))
			}
			rs := sets[0].Meta().Name
			rv := c.ResourceVersion()

			got, err := c.Delete(Deployments, "default", "web", policy)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			switch policy {
			case Background:
				if got.Meta().DeletionTimestamp != "" {
					t.Errorf("deleted in the background: %+v", got.Meta())
				}
				lines = history(t, c, rv, func(l []string) bool { return indexOf(l, "DELETED pods") >= 0 && len(rt.podCount()) == 0 })
				if indexOf(lines, "DELETED deployments web") != 0 || indexOf(lines, "DELETED replicasets "+rs) != 1 {
					t.Errorf("the Deployment, then its ReplicaSet, then the pods:\n%s", strings.Join(lines, "\n"))
				}
			case Foreground:
				if m := got.Meta(); m.DeletionTimestamp == "" || !slices.Equal(m.Finalizers, []string{"foregroundDeletion"}) {
					t.Errorf("deleted in the foreground: %+v", m)
				}
				lines = history(t, c, rv, func(l []string) bool { return indexOf(l, "DELETED deployments") >= 0 })
				last := indexOf(lines, "DELETED pods")
				for _, p := range pods {
					last = max(last, indexOf(lines, "DELETED pods "+p))
				}
				if indexOf(lines, "MODIFIED deployments web (deleting)") != 0 || indexOf(lines, "MODIFIED replicasets "+rs+" (deleting)") != 1 ||
					indexOf(lines, "DELETED replicasets "+rs) < last || indexOf(lines, "DELETED deployments web") != len(lines)-1 {
					t.Errorf("the Deployment and ReplicaSet held until the pods are gone:\n%s", strings.Join(lines, "\n"))
				}
			case Orphan:
				lines = history(t, c, rv, func(l []string) bool { return indexOf(l, "DELETED deployments") >= 0 })
				o, ok := c.Get(ReplicaSets, "default", rs)
				if !ok || len(o.Meta().OwnerReferences) != 0 {
					t.Fatalf("the orphaned ReplicaSet: %v %+v", ok, o)
				}
				time.Sleep(50 * time.Millisecond) // nothing more should happen
				if now := podNames(c, "app=web"); !slices.Equal(now, pods) {
					t.Errorf("orphaned pods %v, want %v kept", now, pods)
				}
			}
			if _, ok := c.Get(Deployments, "default", "web"); ok {
				t.Error("the Deployment is still there")
			}
			if _, err := c.Delete(Deployments, "default", "web", policy); !errors.Is(err, ErrNotFound) {
				t.Errorf("deleted twice: %v", err)
			}
		})
	}
}

func (f *fakeRuntime) podCount() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for k := range f.pods {
		names = append(names, k.name)
	}
	return names
}

// TestDeleteOwnedReplicaSet: the Deployment of a deleted ReplicaSet makes
// it again, with new pods.
func TestDeleteOwnedReplicaSet(t *testing.T) {
	c := startCluster(t, newFake(), Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	waitFor(t, "a pod", func() bool { return len(podNames(c, "app=web")) == 1 })
	old := podNames(c, "app=web")
	sets, _ := c.List(ReplicaSets, "default", nil)
	uid := sets[0].Meta().UID
	if _, err := c.Delete(ReplicaSets, "default", sets[0].Meta().Name, Background); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new ReplicaSet and pod", func() bool {
		sets, _ := c.List(ReplicaSets, "default", nil)
		now := podNames(c, "app=web")
		return len(sets) == 1 && sets[0].Meta().UID != uid && len(now) == 1 && now[0] != old[0]
	})
}

// TestCreateBounds: creates are checked and bounded.
func TestCreateBounds(t *testing.T) {
	c := startCluster(t, newFake(), Objects{})
	d := deployment("web", 1)
	d.Namespace = "default"
	if _, err := c.CreateDeployment(d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDeployment(d); !errors.Is(err, ErrExists) {
		t.Errorf("twice: %v", err)
	}
	d.Namespace = "nowhere"
	if _, err := c.CreateDeployment(d); !errors.Is(err, ErrNotFound) {
		t.Errorf("in a namespace that is not there: %v", err)
	}
	bad := deployment("bad", 1)
	bad.Namespace = "default"
	bad.Spec.Template.Labels = map[string]string{"app": "other"}
	var inv *InvalidError
	if _, err := c.CreateDeployment(bad); !errors.As(err, &inv) || !strings.HasPrefix(inv.Msg, "spec.template.metadata.labels") {
		t.Errorf("a selector that does not select its template: %v", err)
	}
	for i := 1; i < MaxObjects; i++ {
		g := deployment("", 0)
		g.GenerateName, g.Namespace = "gen-", "default"
		g.Spec.Selector.MatchLabels = map[string]string{"app": "gen"}
		g.Spec.Template.Labels = map[string]string{"app": "gen"}
		if d, err := c.CreateDeployment(g); err != nil || !strings.HasPrefix(d.Name, "gen-") || len(d.Name) != 9 {
			t.Fatalf("deployment %d: %v %v", i, d, err)
		}
	}
	last := deployment("last", 0)
	last.Namespace = "default"
	if _, err := c.CreateDeployment(last); !errors.Is(err, ErrTooMany) {
		t.Errorf("past %d: %v", MaxObjects, err)
	}

	svc := func(name, ip string) *kube.Service {
		return &kube.Service{ObjectMeta: kube.ObjectMeta{Name: name, Namespace: "default"},
			Spec: kube.ServiceSpec{ClusterIP: ip, Selector: map[string]string{"app": "web"}, Ports: []kube.ServicePort{{Port: 80}}}}
	}
	a, err := c.CreateService(svc("a", ""))
	if err != nil {
		t.Fatal(err)
	}
	if a.Spec.ClusterIP == "" || a.Spec.Type != "ClusterIP" || a.Spec.Ports[0].TargetPort.String() != "80" {
		t.Errorf("created %+v", a.Spec)
	}
	if _, err := c.CreateService(svc("b", a.Spec.ClusterIP)); !errors.As(err, &inv) || !strings.Contains(inv.Msg, "provided IP is already allocated") {
		t.Errorf("a taken IP: %v", err)
	}
	if o, err := c.Delete(Services, "default", "a", Foreground); err != nil || o.Meta().DeletionTimestamp != "" {
		t.Fatalf("a Service deleted in the foreground: %v %+v, want it gone at once", err, o)
	}
	if _, ok := c.Get(Services, "default", "a"); ok {
		t.Fatal("the Service deleted in the foreground is still there")
	}
	b, err := c.CreateService(svc("b", a.Spec.ClusterIP))
	if err != nil || b.Spec.ClusterIP != a.Spec.ClusterIP {
		t.Errorf("a freed IP: %v %v", b, err)
	}
}

// TestReplicaSetsBoundedByMaxPods: however many replicas are asked, the
// node runs at most MaxPods pods; the ReplicaSet says why once, with a
// warning event, and makes the rest when room frees.
func TestReplicaSetsBoundedByMaxPods(t *testing.T) {
	rt := newFake()
	a, b := deployment("a", kube.MaxReplicas), deployment("b", kube.MaxReplicas)
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{a, b}})
	waitFor(t, "MaxPods pods", func() bool { return len(rt.podCount()) == MaxPods })
	time.Sleep(50 * time.Millisecond) // no more should come
	if n := len(rt.podCount()); n != MaxPods {
		t.Fatalf("%d pods, want %d", n, MaxPods)
	}
	warnings, _ := c.List(Events, "default", func(o Object) bool { return o.(*kube.Event).Reason == "FailedCreate" })
	if len(warnings) != 1 || warnings[0].(*kube.Event).Count != 1 ||
		!strings.HasSuffix(warnings[0].(*kube.Event).Message, fmt.Sprintf("is forbidden: the node runs at most %d pods", MaxPods)) {
		t.Errorf("FailedCreate events %+v, want one", warnings)
	}
	if _, err := c.ScaleDeployment("default", "a", 1, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's pods all made", func() bool { return len(podNames(c, "app=b")) == kube.MaxReplicas })
}

// TestPatchService: a Service's ports merge by port in a strategic merge
// patch (the patch's first, as the API server orders them); its labels and spec change, its cluster IP does not, and the
// fields porthole does not model are kept.
func TestPatchService(t *testing.T) {
	c := startCluster(t, newFake(), Objects{})
	s, err := c.CreateService(&kube.Service{ObjectMeta: kube.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: kube.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []kube.ServicePort{{Name: "http", Port: 80}, {Name: "admin", Port: 9000}}}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.StrategicPatchService("default", "web", []byte(`{"metadata":{"labels":{"tier":"front"}},"spec":{"ports":[{"port":81,"name":"http"},{"$patch":"delete","port":80}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := u.Spec.Ports; len(p) != 2 || p[0].Port != 81 || p[1].Port != 9000 || p[0].TargetPort.String() != "81" || p[0].Protocol != "TCP" ||
		u.Labels["tier"] != "front" || u.Spec.ClusterIP != s.Spec.ClusterIP || u.ResourceVersion == s.ResourceVersion {
		t.Errorf("patched %+v %+v", u.ObjectMeta, u.Spec)
	}
	var inv *InvalidError
	for _, tt := range []struct{ patch, want string }{
		{`{"spec":{"clusterIP":"10.96.9.9"}}`, `spec.clusterIP: Invalid value: "10.96.9.9": field is immutable`},
		{`{"spec":{"type":"NodePort"}}`, `spec.type: unsupported value "NodePort": porthole serves ClusterIP Services only`},
	} {
		if _, err := c.PatchService("default", "web", []byte(tt.patch)); !errors.As(err, &inv) || inv.Msg != tt.want {
			t.Errorf("%s: %v, want %s", tt.patch, err, tt.want)
		}
	}
	if same, err := c.PatchService("default", "web", []byte(`{"spec":{"clusterIP":null}}`)); err != nil || same.Spec.ClusterIP != s.Spec.ClusterIP {
		t.Errorf("clusterIP removed: %v %v, want it kept", same, err)
	}
	// A field porthole does not model is kept, and goes with null.
	if _, err := c.PatchService("default", "web", []byte(`{"spec":{"loadBalancerClass":"x","ports":[{"port":81,"appProtocol":"http"}]}}`)); err != nil {
		t.Fatal(err)
	}
	o, _ := c.Get(Services, "default", "web")
	if spec := specOf(o.(*kube.Service)).(map[string]any); spec["loadBalancerClass"] != "x" || spec["ports"].([]any)[0].(map[string]any)["appProtocol"] != "http" {
		t.Errorf("unmodeled fields patched in: %v", spec)
	}
	u, err = c.PatchService("default", "web", []byte(`{"spec":{"loadBalancerClass":null}}`))
	if spec := specOf(u).(map[string]any); err != nil || spec["loadBalancerClass"] != nil || spec["ports"].([]any)[0].(map[string]any)["appProtocol"] != "http" {
		t.Errorf("an unmodeled field removed: %v %v", err, spec)
	}
}

// TestClusterIPsWrap: addresses come round the range, skipping those in
// use, however many Services came and went.
func TestClusterIPsWrap(t *testing.T) {
	c := startCluster(t, newFake(), Objects{})
	c.mu.Lock()
	c.nextIP = maxClusterIPs - 1
	c.mu.Unlock()
	var ips []string
	for _, name := range []string{"a", "b", "c"} {
		s, err := c.CreateService(&kube.Service{ObjectMeta: kube.ObjectMeta{Name: name, Namespace: "default"}, Spec: kube.ServiceSpec{Ports: []kube.ServicePort{{Port: 80}}}})
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, s.Spec.ClusterIP)
	}
	if want := []string{"10.96.255.250", "10.96.0.11", "10.96.0.12"}; !slices.Equal(ips, want) {
		t.Errorf("addresses %v, want %v", ips, want)
	}
	if _, err := c.Delete(Services, "default", "b", Background); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.nextIP = maxClusterIPs
	c.mu.Unlock()
	d, err := c.CreateService(&kube.Service{ObjectMeta: kube.ObjectMeta{Name: "d", Namespace: "default"}, Spec: kube.ServiceSpec{Ports: []kube.ServicePort{{Port: 80}}}})
	if err != nil || d.Spec.ClusterIP != "10.96.0.11" {
		t.Errorf("after wrapping again: %v %v, want the freed 10.96.0.11", d, err)
	}
}

// TestPatchApply: kubectl apply's patch of a manifest's fields porthole
// does not model, which created the object without them, is taken
// (they are ignored again) rather than refused; the rest of it applies.
func TestPatchApply(t *testing.T) {
	c := startCluster(t, newFake(), Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	patch := []byte(`{"spec":{"minReadySeconds":5,"template":{"spec":{"containers":[{"name":"c","image":"v2","resources":{"limits":{"cpu":"1"}}}]}}}}`)
	for _, opts := range []WriteOptions{{}, {Apply: true}} {
		d, err := c.StrategicPatchDeployment("default", "web", patch, opts)
		spec, _ := specOf(d).(map[string]any)
		if err != nil || d.Spec.Template.Spec.Containers[0].Image != "v2" || d.Generation != 2 || spec["minReadySeconds"] != float64(5) {
			t.Errorf("apply %t: %v %+v, want the image changed and minReadySeconds kept", opts.Apply, err, spec)
		}
	}
}

// TestAdoptOrphans: a Deployment made again after a delete with
// --cascade=orphan takes its old ReplicaSet back, pods and all; a
// ReplicaSet made again after one takes the pods back.
func TestAdoptOrphans(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{})
	d := deployment("web", 2)
	d.Namespace = "default"
	if _, err := c.CreateDeployment(d); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two pods", func() bool { return len(podNames(c, "app=web")) == 2 })
	pods := podNames(c, "app=web")
	sets, _ := c.List(ReplicaSets, "default", nil)
	rs := sets[0].Meta()
	if _, err := c.Delete(Deployments, "default", "web", Orphan); err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateDeployment(d)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ReplicaSet adopted", func() bool {
		o, ok := c.Get(ReplicaSets, "default", rs.Name)
		ref := o.Meta().ControllerOf()
		return ok && o.Meta().UID == rs.UID && ref != nil && ref.UID == again.UID
	})
	if now := podNames(c, "app=web"); !slices.Equal(now, pods) || len(rt.podCount()) != 2 {
		t.Errorf("pods %v (%d in the runtime), want %v kept", now, len(rt.podCount()), pods)
	}

	if _, err := c.Delete(ReplicaSets, "default", rs.Name, Orphan); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new ReplicaSet owning the old pods", func() bool {
		o, ok := c.Get(ReplicaSets, "default", rs.Name)
		if !ok || o.Meta().UID == rs.UID {
			return false
		}
		owned, _ := c.List(Pods, "default", func(p Object) bool { return controlledBy(p.Meta(), o.Meta().UID) })
		return len(owned) == 2
	})
	time.Sleep(50 * time.Millisecond) // nothing more should happen
	if now := podNames(c, "app=web"); !slices.Equal(now, pods) || len(rt.podCount()) != 2 {
		t.Errorf("pods %v (%d in the runtime), want %v kept", now, len(rt.podCount()), pods)
	}
}

// TestObjectBounds: a Deployment or Service over MaxObjectBytes is
// refused, created or patched; past MaxReplicaSets a Deployment makes no
// new ReplicaSet, and says so once.
func TestObjectBounds(t *testing.T) {
	c := startCluster(t, newFake(), Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	big := strings.Repeat("x", MaxObjectBytes)
	d := deployment("huge", 0)
	d.Namespace = "default"
	d.Spec.Template.Spec.Containers[0].Env = []kube.EnvVar{{Name: "BIG", Value: big}}
	var tl *TooLargeError
	if _, err := c.CreateDeployment(d); !errors.As(err, &tl) {
		t.Errorf("a huge Deployment: %v", err)
	}
	s := &kube.Service{ObjectMeta: kube.ObjectMeta{Name: "s", Namespace: "default", Labels: map[string]string{"a": "b"}}, Spec: kube.ServiceSpec{Ports: []kube.ServicePort{{Port: 80}}}}
	for i := range 30 {
		s.Spec.ExternalIPs = append(s.Spec.ExternalIPs, strings.Repeat("1", 5000)+strconv.Itoa(i))
	}
	if _, err := c.CreateService(s); !errors.As(err, &tl) {
		t.Errorf("a huge Service: %v", err)
	}
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"BIG","value":"` + big + `"}]}]}}}}`
	if _, err := c.StrategicPatchDeployment("default", "web", []byte(patch)); !errors.As(err, &tl) {
		t.Errorf("a patch making it huge: %v", err)
	}
	if _, ok := c.Get(Deployments, "default", "huge"); ok {
		t.Error("the huge Deployment was made")
	}

	c.mu.Lock()
	for i := len(c.objs[ReplicaSets]); i < MaxReplicaSets; i++ {
		c.storeLocked(ReplicaSets, "ADDED", &kube.ReplicaSet{ObjectMeta: kube.ObjectMeta{Name: fmt.Sprintf("filler-%d", i), Namespace: "other", UID: newUID()},
			Spec: kube.ReplicaSetSpec{Replicas: ptr(int32(0))}})
	}
	c.mu.Unlock()
	for v := range 3 {
		if _, err := c.PatchDeployment("default", "web", []byte(fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"v":"%d"}}}}}`, v))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the warning", func() bool {
		evs, _ := c.List(Events, "default", func(o Object) bool { return o.(*kube.Event).Reason == "FailedCreate" })
		return len(evs) == 1
	})
	sets, _ := c.List(ReplicaSets, "default", nil)
	evs, _ := c.List(Events, "default", func(o Object) bool { return o.(*kube.Event).Reason == "FailedCreate" })
	if e := evs[0].(*kube.Event); len(sets) != 1 || e.Count != 1 || e.Type != "Warning" || !strings.Contains(e.Message, "serve holds at most 1024 replica sets") {
		t.Errorf("%d ReplicaSets of web, event %+v", len(sets), e)
	}
}

// TestPatchPod: a pod's labels, annotations and images may change, and
// the runtime's view does not undo them; a relabelled pod leaves its
// ReplicaSet, which replaces it; any other spec change is refused as the
// API server refuses it.
func TestPatchPod(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{deployment("web", 1)}})
	waitFor(t, "a pod", func() bool { return len(podNames(c, "app=web")) == 1 })
	name := podNames(c, "app=web")[0]
	p, err := c.StrategicPatchPod("default", name, []byte(`{"metadata":{"labels":{"app":"debug"},"annotations":{"note":"x"}},"spec":{"containers":[{"name":"c","image":"v2"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Labels["app"] != "debug" || p.Annotations["note"] != "x" || p.Spec.Containers[0].Image != "v2" {
		t.Errorf("patched %+v %+v", p.ObjectMeta, p.Spec.Containers)
	}
	waitFor(t, "a replacement", func() bool { return len(podNames(c, "app=web")) == 1 && podNames(c, "app=web")[0] != name })
	rt.notify() // the runtime's pod still has the old labels
	waitFor(t, "the pod let go", func() bool {
		o, _ := c.Get(Pods, "default", name)
		return len(o.Meta().OwnerReferences) == 0
	})
	o, _ := c.Get(Pods, "default", name)
	if got := o.(*kube.Pod); got.Labels["app"] != "debug" || got.Annotations["note"] != "x" || got.Spec.Containers[0].Image != "v2" {
		t.Errorf("after a runtime sync: %+v %+v", got.ObjectMeta, got.Spec.Containers)
	}
	var inv *InvalidError
	for _, patch := range []string{`{"spec":{"restartPolicy":"Never"}}`, `{"spec":{"containers":[{"name":"c","command":["true"]}]}}`} {
		if _, err := c.StrategicPatchPod("default", name, []byte(patch)); !errors.As(err, &inv) || inv.Msg != podUpdateForbidden {
			t.Errorf("%s: %v", patch, err)
		}
	}
	if _, err := c.PatchPod("default", name, []byte(`{"metadata":{"labels":{"bad key":"x"}}}`)); !errors.As(err, &inv) || !strings.HasPrefix(inv.Msg, "metadata.labels") {
		t.Errorf("a bad label: %v", err)
	}
	var tl *TooLargeError
	huge := `{"spec":{"containers":[{"name":"c","image":"` + strings.Repeat("x", MaxObjectBytes) + `"}]}}`
	if _, err := c.StrategicPatchPod("default", name, []byte(huge)); !errors.As(err, &tl) {
		t.Errorf("a huge image: %v, want it refused", err)
	}
}

// sharingRuntime hands out pods that share their containers with its
// own, as a runtime may (localrt does): the cluster must not write them.
type sharingRuntime struct{ *fakeRuntime }

func (s sharingRuntime) Pod(_ context.Context, ns, name string) (*kube.Pod, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[key{ns, name}]
	if !ok {
		return nil, fmt.Errorf("pod %s/%s: %w", ns, name, node.ErrNotFound)
	}
	cp := *p
	return &cp, nil
}

// TestPatchedImageLeavesRuntimeAlone: patched images (of containers and
// init containers) stay the cluster's across syncs; the runtime's pod,
// which the sync reads, keeps its own.
func TestPatchedImageLeavesRuntimeAlone(t *testing.T) {
	rt := sharingRuntime{newFake()}
	d := deployment("web", 1)
	d.Spec.Template.Spec.InitContainers = []kube.Container{{Name: "i"}}
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{d}})
	waitFor(t, "a pod", func() bool { return len(podNames(c, "app=web")) == 1 })
	name := podNames(c, "app=web")[0]
	if _, err := c.StrategicPatchPod("default", name, []byte(`{"spec":{"containers":[{"name":"c","image":"v2"}],"initContainers":[{"name":"i","image":"v3"}]}}`)); err != nil {
		t.Fatal(err)
	}
	rt.setReady("default", name, false) // a change the sync takes
	waitFor(t, "the sync", func() bool {
		o, _ := c.Get(Pods, "default", name)
		return !o.(*kube.Pod).IsReady()
	})
	rt.mu.Lock()
	spec := rt.pods[key{"default", name}].Spec
	images := spec.Containers[0].Image + "," + spec.InitContainers[0].Image
	rt.mu.Unlock()
	o, _ := c.Get(Pods, "default", name)
	got := o.(*kube.Pod).Spec
	if images != "," || got.Containers[0].Image != "v2" || got.InitContainers[0].Image != "v3" {
		t.Errorf("runtime's images %q, cluster's %q and %q; want the runtime's untouched and the patched ones kept",
			images, got.Containers[0].Image, got.InitContainers[0].Image)
	}
}
