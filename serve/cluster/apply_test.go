package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube"
)

// TestFieldSets: a field set reads back from its FieldsV1 form, and its
// paths print as the API server prints them in a conflict.
func TestFieldSets(t *testing.T) {
	doc := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"a": "1"}, "finalizers": []any{"x"}},
		"spec": map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{
			map[string]any{"port": float64(80), "targetPort": float64(8080)},
			map[string]any{"port": float64(81), "protocol": "UDP"},
		}},
	}
	set := serviceSchema.set(doc)
	var paths []string
	for p := range set {
		paths = append(paths, p.String())
	}
	slices.Sort(paths)
	want := []string{".metadata.finalizers[=\"x\"]", ".metadata.labels.a", ".spec.ports[port=80,protocol=\"TCP\"]",
		".spec.ports[port=80,protocol=\"TCP\"].port", ".spec.ports[port=80,protocol=\"TCP\"].targetPort",
		".spec.ports[port=81,protocol=\"UDP\"]", ".spec.ports[port=81,protocol=\"UDP\"].port", ".spec.ports[port=81,protocol=\"UDP\"].protocol",
		".spec.selector"}
	if !slices.Equal(paths, want) {
		t.Errorf("paths:\n got %q\nwant %q", paths, want)
	}
	tree := set.fieldsV1()
	b, _ := json.Marshal(tree)
	const wantTree = `{"f:metadata":{"f:finalizers":{"v:\"x\"":{}},"f:labels":{"f:a":{}}},"f:spec":{"f:ports":{` +
		`"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{},"f:targetPort":{}},` +
		`"k:{\"port\":81,\"protocol\":\"UDP\"}":{".":{},"f:port":{},"f:protocol":{}}},"f:selector":{}}}`
	if string(b) != wantTree {
		t.Errorf("FieldsV1:\n got %s\nwant %s", b, wantTree)
	}
	if back := setFromFieldsV1(tree); !sameSet(back, set) {
		t.Errorf("read back: %v, want %v", back, set)
	}
	// What is not a path element in a written entry is left out.
	junk := setFromFieldsV1(map[string]any{"x": map[string]any{}, "f": 1, "f:a": map[string]any{"zz": map[string]any{}}, "f:b": map[string]any{}})
	if len(junk) != 1 || !junk.has("f:b") {
		t.Errorf("junk read as %v, want only f:b", junk)
	}
}

// TestServerSideApply: applies by several managers on a Deployment: a
// dropped field goes, one another manager set conflicts unless forced
// or given its value (then shared), and every write keeps managedFields.
func TestServerSideApply(t *testing.T) {
	c := startCluster(t, newFake(), Objects{})
	manifest := func(labels string, replicas string, env string) []byte {
		return []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{` + labels + `}},"spec":{` + replicas +
			`"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[` +
			`{"name":"c","image":"busybox","command":["sleep","infinity"],"env":[` + env + `]}]}}}}`)
	}
	alice := WriteOptions{Manager: "alice"}
	if _, err := c.ApplyDeployment("default", "web", manifest("", "", "")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("apply of a missing Deployment: %v, want ErrNotFound (the API creates it)", err)
	}
	var d kube.Deployment
	if err := json.Unmarshal(manifest(`"team":"a"`, `"replicas":2,`, `{"name":"A","value":"1"},{"name":"B","value":"2"}`), &d); err != nil {
		t.Fatal(err)
	}
	d.Namespace = "default"
	created, err := c.CreateDeployment(&d, WriteOptions{Manager: "alice", ServerSide: true})
	if err != nil {
		t.Fatal(err)
	}
	if m := created.ManagedFields; len(m) != 1 || m[0].Manager != "alice" || m[0].Operation != "Apply" || m[0].APIVersion != "apps/v1" {
		t.Fatalf("created with managedFields %+v, want alice's Apply", m)
	}
	owns := func(d *kube.Deployment, manager, path string) bool {
		for _, e := range d.ManagedFields {
			if e.Manager == manager {
				for p := range setFromFieldsV1(e.FieldsV1) {
					if p.String() == path {
						return true
					}
				}
			}
		}
		return false
	}
	if !owns(created, "alice", ".spec.template.spec.containers[name=\"c\"].env[name=\"B\"].value") || owns(created, "alice", ".spec.revisionHistoryLimit") {
		t.Errorf("alice owns what she applied, not the defaults: %+v", created.ManagedFields)
	}

	// Scaled by bob: alice's replicas conflict, with the API server's words.
	if _, err := c.ScaleDeployment("default", "web", 3, "", WriteOptions{Manager: "bob", Subresource: "scale"}); err != nil {
		t.Fatal(err)
	}
	var conflict *ConflictError
	_, err = c.ApplyDeployment("default", "web", manifest(`"team":"a"`, `"replicas":2,`, `{"name":"A","value":"1"}`), alice)
	if !errors.As(err, &conflict) || conflict.Msg != `Apply failed with 1 conflict: conflict with "bob" with subresource "scale" using apps/v1: .spec.replicas` ||
		len(conflict.Causes) != 1 || conflict.Causes[0].Field != ".spec.replicas" {
		t.Fatalf("apply of bob's field: %v %+v", err, conflict)
	}
	// Its value: shared; env B dropped: gone.
	u, err := c.ApplyDeployment("default", "web", manifest(`"team":"a"`, `"replicas":3,`, `{"name":"A","value":"1"}`), alice)
	if err != nil {
		t.Fatal(err)
	}
	if env := u.Spec.Template.Spec.Containers[0].Env; len(env) != 1 || env[0].Name != "A" || !owns(u, "alice", ".spec.replicas") || !owns(u, "bob", ".spec.replicas") {
		t.Errorf("after the shared apply: env %+v, managedFields %+v", env, u.ManagedFields)
	}
	// Dropped by alice, still bob's: kept.
	if u, err = c.ApplyDeployment("default", "web", manifest(`"team":"a"`, ``, `{"name":"A","value":"1"}`), alice); err != nil || kube.Replicas(u.Spec.Replicas) != 3 {
		t.Fatalf("replicas dropped by alice: %v, %v; want bob's 3 kept", err, u.Spec.Replicas)
	}
	// Forced by carol: bob's no more.
	carol := WriteOptions{Manager: "carol", Force: true}
	if u, err = c.ApplyDeployment("default", "web", []byte(`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":1}}`), carol); err != nil {
		t.Fatal(err)
	}
	if kube.Replicas(u.Spec.Replicas) != 1 || owns(u, "bob", ".spec.replicas") || !owns(u, "carol", ".spec.replicas") {
		t.Errorf("forced: replicas %v, managedFields %+v", u.Spec.Replicas, u.ManagedFields)
	}
	// A label dropped by alice and set by nobody else: gone; the same
	// apply again changes nothing.
	if u, err = c.ApplyDeployment("default", "web", manifest(``, ``, `{"name":"A","value":"1"}`), alice); err != nil || u.Labels["team"] != "" {
		t.Fatalf("label dropped: %v, labels %v", err, u.Labels)
	}
	// (Not its resourceVersion: the controllers write the status.)
	again, err := c.ApplyDeployment("default", "web", manifest(``, ``, `{"name":"A","value":"1"}`), alice)
	if err != nil || again.Generation != u.Generation || !reflect.DeepEqual(again.ManagedFields, u.ManagedFields) || !sameJSON(again.Spec, u.Spec) {
		t.Errorf("the same apply again: %v, generation %d, managedFields %+v; was %d, %+v", err, again.Generation, again.ManagedFields, u.Generation, u.ManagedFields)
	}
	// A write that resets managedFields (a single empty entry) empties
	// them; one that names none keeps them.
	kept, err := c.PatchDeployment("default", "web", []byte(`{"metadata":{"annotations":{"x":"y"}}}`), WriteOptions{Manager: "dave"})
	if err != nil || !owns(kept, "dave", ".metadata.annotations.x") || !owns(kept, "alice", ".spec.selector") {
		t.Fatalf("patched by dave: %v %+v", err, kept.ManagedFields)
	}
	reset, err := c.PatchDeployment("default", "web", []byte(`{"metadata":{"managedFields":[{}]}}`), WriteOptions{Manager: "erin"})
	if err != nil || len(reset.ManagedFields) != 0 {
		t.Errorf("reset: %v %+v", err, reset.ManagedFields)
	}
}

// TestApplyRefusals: an apply of another kind, version or name is
// refused before anything is merged.
func TestApplyRefusals(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`[]`, "an apply patch must be an object"},
		{`{"apiVersion":"v1","kind":"Pod"}`, "invalid object type: v1, Kind=Pod"},
		{`{"apiVersion":"apps/v2","kind":"Deployment"}`, "invalid object type: apps/v2, Kind=Deployment"},
		{`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"other"}}`, "the name of the object (other) does not match the name on the URL (web)"},
		{strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40), "nested deeper"},
		// The API server answers these two with a 500; porthole says why.
		{`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"name":"a"},{"name":"a"}]}}}}`,
			`.spec.template.spec.containers: duplicate entries for key [name="a"]`},
		{`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"image":"a"}]}}}}`,
			`.spec.template.spec.containers: element 0: associative list with keys has an element that omits key field "name" (and doesn't have default value)`},
	} {
		_, err := serverSideApply([]byte(tc.cfg), "Deployment", "apps/v1", "web", "now", WriteOptions{Manager: "m"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// FuzzServerSideApply: any apply onto any object with any managedFields
// gives a JSON object or an error, never a panic; an apply that took
// applies again unchanged, without a conflict.
func FuzzServerSideApply(f *testing.F) {
	f.Add(`{"metadata":{"labels":{"a":"1"}},"spec":{"ports":[{"port":80}]}}`,
		`[{"manager":"x","operation":"Update","fieldsV1":{"f:metadata":{"f:labels":{"f:a":{}}}}}]`,
		`{"apiVersion":"v1","kind":"Service","metadata":{"labels":{"a":"2"}},"spec":{"ports":[{"port":80,"name":"p"}]}}`, true)
	f.Add(`{"spec":{"ports":[{"port":80},{"port":80},"x",null]}}`,
		`[{"manager":"m","operation":"Apply","fieldsV1":{"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{}}},"q":1}}}]`,
		`{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":81}],"selector":{"a":"b"}}}`, false)
	f.Add(`{"metadata":{"finalizers":["a","a"]}}`, `[{}]`, `{"apiVersion":"v1","kind":"Service","metadata":{"finalizers":["b",{"x":1}]}}`, false)
	f.Fuzz(func(t *testing.T, live, managed, cfg string, force bool) {
		var doc map[string]any
		var entries []any
		if json.Unmarshal([]byte(live), &doc) != nil || json.Unmarshal([]byte(managed), &entries) != nil || doc == nil {
			return
		}
		meta, _ := doc["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			doc["metadata"] = meta
		}
		meta["managedFields"] = entries
		w := WriteOptions{Manager: "m", Force: force}
		apply, err := serverSideApply([]byte(cfg), "Service", "v1", "web", "now", w)
		if err != nil {
			return
		}
		out, err := apply(doc)
		if err != nil {
			var c *ConflictError
			if !errors.As(err, &c) || len(c.Causes) == 0 {
				t.Fatalf("apply: %v", err)
			}
			return
		}
		first, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
		var again map[string]any
		json.Unmarshal(first, &again)
		out2, err := apply(again)
		if err != nil {
			t.Fatalf("the same apply again: %v", err)
		}
		a, b := owned(jsonOf(out)), owned(jsonOf(out2))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("the same apply again changed the object:\n%v\n%v", a, b)
		}
	})
}

// TestControllerManagedFields: the ReplicaSet and the pods a Deployment's
// controllers create are the controller manager's in managedFields, an
// owner reference owned whole, as the API server records them.
func TestControllerManagedFields(t *testing.T) {
	c := startCluster(t, newFake(), Objects{})
	var d kube.Deployment
	if err := json.Unmarshal([]byte(`{"metadata":{"name":"web","namespace":"default"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},`+
		`"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","command":["sleep","infinity"]}]}}}}`), &d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDeployment(&d, WriteOptions{Manager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pod", func() bool { return len(podNames(c, "app=web")) == 1 })
	o, _ := c.Get(Pods, "default", podNames(c, "app=web")[0])
	p := o.(*kube.Pod)
	if m := p.ManagedFields; len(m) != 1 || m[0].Manager != controllerManager || m[0].Operation != "Update" || m[0].APIVersion != "v1" {
		t.Fatalf("the pod's managedFields: %+v", m)
	}
	owner := fmt.Sprintf(`"f:ownerReferences":{".":{},"k:{\"uid\":\"%s\"}":{}}`, p.OwnerReferences[0].UID)
	if b, _ := json.Marshal(p.ManagedFields[0].FieldsV1); !strings.Contains(string(b), `"f:generateName":{}`) || !strings.Contains(string(b), owner) {
		t.Errorf("the pod's fields: %s, want its generateName and %s", b, owner)
	}
	rss, _ := c.List(ReplicaSets, "default", func(Object) bool { return true })
	if len(rss) != 1 || len(rss[0].Meta().ManagedFields) != 1 || rss[0].Meta().ManagedFields[0].Manager != controllerManager {
		t.Errorf("the ReplicaSets: %+v", rss)
	}
}

// TestServiceCreateManagedFields: what the API server allocates (the
// cluster IP, the IP families) is nobody's after a create that did not
// send it; the defaults are the creator's.
func TestServiceCreateManagedFields(t *testing.T) {
	c := startCluster(t, newFake(), Objects{})
	owns := func(s *kube.Service, path string) bool {
		for p := range setFromFieldsV1(s.ManagedFields[0].FieldsV1) {
			if p.String() == path {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name, clusterIP string
		ownsIP          bool
	}{{"allocated", "", false}, {"chosen", "10.96.7.7", true}} {
		s, err := c.CreateService(&kube.Service{ObjectMeta: kube.ObjectMeta{Name: tc.name, Namespace: "default"},
			Spec: kube.ServiceSpec{ClusterIP: tc.clusterIP, Ports: []kube.ServicePort{{Port: 80}}}}, WriteOptions{Manager: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Spec.ClusterIP == "" || s.Spec.IPFamilyPolicy != "SingleStack" || s.Spec.InternalTrafficPolicy != "Cluster" {
			t.Errorf("%s: spec %+v", tc.name, s.Spec)
		}
		if owns(s, ".spec.clusterIP") != tc.ownsIP || owns(s, ".spec.ipFamilies") || !owns(s, ".spec.internalTrafficPolicy") || !owns(s, ".spec.sessionAffinity") {
			t.Errorf("%s: managedFields %v", tc.name, s.ManagedFields[0].FieldsV1)
		}
	}
}
