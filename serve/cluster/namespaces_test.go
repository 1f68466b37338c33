package cluster

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/porthole/porthole/kube"
)

// namespaceNames lists the stored namespaces.
func namespaceNames(c *Cluster) []string {
	items, _ := c.List(Namespaces, "", nil)
	var names []string
	for _, o := range items {
		names = append(names, o.Meta().Name)
	}
	return names
}

// inNamespace counts the objects of every contained kind in ns.
func inNamespace(c *Cluster, ns string) int {
	n := 0
	for _, res := range contained {
		items, _ := c.List(res, ns, nil)
		n += len(items)
	}
	return n
}

// TestNamespaceLifecycle: the cluster starts with the builtin namespaces,
// the manifest's and those its objects are in; a created namespace takes
// objects; a deleted one refuses new ones, loses its workloads at once and
// its pods once they have stopped, and then goes itself.
func TestNamespaceLifecycle(t *testing.T) {
	job := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "job", Namespace: "batch"}, Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c"}}}}
	rt := newFake(job)
	c := startCluster(t, rt, Objects{Pods: []*kube.Pod{job},
		Namespaces: []*kube.Namespace{{ObjectMeta: kube.ObjectMeta{Name: "team", Labels: map[string]string{"owner": "web"}}}}})
	if got, want := namespaceNames(c), []string{"batch", "default", "kube-node-lease", "kube-public", "kube-system", "team"}; !slices.Equal(got, want) {
		t.Fatalf("namespaces %v, want %v", got, want)
	}
	o, _ := c.Get(Namespaces, "", "team")
	team := o.(*kube.Namespace)
	if !maps.Equal(team.Labels, map[string]string{"owner": "web", nameLabel: "team"}) || team.UID != seededUID("team") ||
		!slices.Equal(team.Spec.Finalizers, []string{"kubernetes"}) || team.Status.Phase != "Active" || team.Kind != "Namespace" {
		t.Errorf("team %+v", team)
	}

	dev, err := c.CreateNamespace(&kube.Namespace{ObjectMeta: kube.ObjectMeta{Name: "dev", Namespace: "x",
		Labels: map[string]string{nameLabel: "other"}}})
	if err != nil {
		t.Fatal(err)
	}
	if dev.Namespace != "" || dev.Labels[nameLabel] != "dev" || dev.UID == "" || dev.UID == seededUID("dev") || dev.Status.Phase != "Active" {
		t.Errorf("created %+v", dev)
	}
	var inv *InvalidError
	for _, tc := range []struct {
		name string
		ok   func(error) bool
	}{
		{"dev", func(err error) bool { return errors.Is(err, ErrExists) }},
		{"Dev", func(err error) bool { return errors.As(err, &inv) }},
		{"", func(err error) bool { return errors.As(err, &inv) }},
	} {
		if _, err := c.CreateNamespace(&kube.Namespace{ObjectMeta: kube.ObjectMeta{Name: tc.name}}); !tc.ok(err) {
			t.Errorf("create namespace %q: %v", tc.name, err)
		}
	}
	if _, err := c.CreateNamespace(&kube.Namespace{ObjectMeta: kube.ObjectMeta{Name: "dry"}}, WriteOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(Namespaces, "", "dry"); ok {
		t.Error("a dry run stored the namespace")
	}
	elsewhere := deployment("web", 1)
	elsewhere.Namespace = "nope"
	if _, err := c.CreateDeployment(elsewhere); !errors.Is(err, ErrNotFound) {
		t.Errorf("a Deployment in no namespace: %v", err)
	}

	d := deployment("web", 2)
	d.Namespace = "dev"
	if _, err := c.CreateDeployment(d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateService(&kube.Service{ObjectMeta: kube.ObjectMeta{Name: "web", Namespace: "dev"},
		Spec: kube.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []kube.ServicePort{{Port: 80}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two pods in dev", func() bool {
		pods, _ := c.List(Pods, "dev", nil)
		return len(pods) == 2
	})

	for _, name := range []string{"default", "kube-system", "kube-public"} {
		if _, err := c.Delete(Namespaces, "", name, Background); !errors.Is(err, ErrImmortal) {
			t.Errorf("delete %s: %v", name, err)
		}
	}
	got, err := c.Delete(Namespaces, "", "dev", Background, WriteOptions{DryRun: true})
	if err != nil || got.(*kube.Namespace).Status.Phase != "Terminating" {
		t.Fatalf("dry run: %v %+v", err, got)
	}
	if o, _ := c.Get(Namespaces, "", "dev"); o.(*kube.Namespace).Status.Phase != "Active" {
		t.Fatal("a dry run marked the namespace")
	}

	// The pods' processes take their time to stop.
	gate := make(chan struct{})
	rt.mu.Lock()
	rt.gate = gate
	rt.mu.Unlock()
	w := watchAll(t, c, Namespaces)
	got, err = c.Delete(Namespaces, "", "dev", Background)
	if err != nil {
		t.Fatal(err)
	}
	if ns := got.(*kube.Namespace); ns.DeletionTimestamp == "" || ns.Status.Phase != "Terminating" {
		t.Errorf("deleted %+v", ns)
	}
	pod := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "late", Namespace: "dev"}, Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c"}}}}
	var term *TerminatingError
	if _, err := c.CreatePod(pod); !errors.As(err, &term) || term.Namespace != "dev" {
		t.Errorf("a pod in a terminating namespace: %v", err)
	}
	if _, err := c.CreateDeployment(d); !errors.As(err, &term) {
		t.Errorf("a Deployment in a terminating namespace: %v", err)
	}
	// Its objects stay a moment, for kubectl delete -f to delete them.
	if _, err := c.Delete(Services, "dev", "web", Background); err != nil {
		t.Errorf("delete a Service of a namespace just deleted: %v", err)
	}
	waitFor(t, "the workloads gone", func() bool {
		n := 0
		for _, res := range []Resource{Deployments, ReplicaSets, Services} {
			items, _ := c.List(res, "dev", nil)
			n += len(items)
		}
		return n == 0
	})
	if again, err := c.Delete(Namespaces, "", "dev", Background); err != nil || again.Meta().DeletionTimestamp == "" {
		t.Errorf("deleted again: %v", err)
	}
	if _, ok := c.Get(Namespaces, "", "dev"); !ok {
		t.Fatal("the namespace went before its pods stopped")
	}
	close(gate)
	waitFor(t, "the namespace gone", func() bool { _, ok := c.Get(Namespaces, "", "dev"); return !ok })
	if n := inNamespace(c, "dev"); n != 0 {
		t.Errorf("%d objects left in the deleted namespace", n)
	}
	rt.mu.Lock()
	for k := range rt.pods {
		if k.namespace == "dev" {
			t.Errorf("pod %s still runs", k.name)
		}
	}
	rt.mu.Unlock()
	var types []string
	for e := next(t, w); ; e = next(t, w) {
		if e.Object.Meta().Name == "dev" {
			types = append(types, e.Type+" "+e.Object.(*kube.Namespace).Status.Phase)
		}
		if e.Type == "DELETED" {
			break
		}
	}
	if want := []string{"MODIFIED Terminating", "DELETED Terminating"}; !slices.Equal(types, want) {
		t.Errorf("watched %v, want %v", types, want)
	}
	if again, err := c.CreateNamespace(&kube.Namespace{ObjectMeta: kube.ObjectMeta{Name: "dev"}}); err != nil || again.UID == dev.UID {
		t.Errorf("made again: %v (uid %s, was %s)", err, again.UID, dev.UID)
	}
	if got := namespaceNames(c); !slices.Contains(got, "batch") {
		t.Errorf("namespaces %v", got)
	}
}

// watchAll watches res from now on.
func watchAll(t *testing.T, c *Cluster, res Resource) *Watcher {
	t.Helper()
	_, w, err := c.Watch(res, WatchOptions{ResourceVersion: c.ResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// TestPatchNamespace: a patch changes labels and annotations; the name
// label and the spec are the API server's.
func TestPatchNamespace(t *testing.T) {
	c := startCluster(t, newFake(), Objects{Namespaces: []*kube.Namespace{{ObjectMeta: kube.ObjectMeta{Name: "team", Labels: map[string]string{"owner": "web"}}}}})
	ns, err := c.StrategicPatchNamespace("", "team", []byte(`{"metadata":{"labels":{"env":"prod","kubernetes.io/metadata.name":"x"},"annotations":{"a":"b"}},"spec":{"finalizers":[]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(ns.Labels, map[string]string{"owner": "web", "env": "prod", nameLabel: "team"}) || ns.Annotations["a"] != "b" ||
		!slices.Equal(ns.Spec.Finalizers, []string{"kubernetes"}) {
		t.Errorf("patched %+v", ns)
	}
	if _, err := c.PatchNamespace("", "team", []byte(`{"metadata":{"labels":{"bad key!":"x"}}}`)); !errors.As(err, new(*InvalidError)) {
		t.Errorf("an invalid label: %v", err)
	}
	if _, err := c.PatchNamespace("", "nope", []byte(`{}`)); !errors.Is(err, ErrNotFound) {
		t.Errorf("no such namespace: %v", err)
	}
	if _, err := c.UpdateNamespace("", "team", []byte(`{"metadata":{"name":"team","labels":{"only":"this"}}}`), WriteOptions{ResourceVersion: "1"}); !errors.Is(err, ErrConflict) {
		t.Errorf("a stale update: %v", err)
	}
	ns, err = c.UpdateNamespace("", "team", []byte(`{"metadata":{"name":"team","labels":{"only":"this"}}}`))
	if err != nil || !maps.Equal(ns.Labels, map[string]string{"only": "this", nameLabel: "team"}) || ns.Annotations != nil {
		t.Errorf("updated: %v %+v", err, ns)
	}
}
