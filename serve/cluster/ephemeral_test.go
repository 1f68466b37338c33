package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// AddEphemeralContainer adds the container to the fake's pod, running.
func (f *fakeRuntime) AddEphemeralContainer(ns, name string, spec kube.EphemeralContainer) error {
	f.mu.Lock()
	defer f.notify()
	defer f.mu.Unlock()
	p, ok := f.pods[key{ns, name}]
	if !ok {
		return fmt.Errorf("pod %s/%s: %w", ns, name, node.ErrNotFound)
	}
	f.ops = append(f.ops, "ephemeral "+spec.Name)
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, spec)
	p.Status.EphemeralContainerStatuses = append(p.Status.EphemeralContainerStatuses, kube.ContainerStatus{
		Name: spec.Name, ContainerID: "porthole://" + spec.Name,
		State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: "2026-12-07T12:00:00Z"}}})
	return nil
}

// debugPatch is kubectl debug's patch for a first ephemeral container,
// as kubectl 1.33 writes it.
func debugPatch(name string) string {
	return `{"spec":{"$setElementOrder/ephemeralContainers":[{"name":"` + name + `"}],"ephemeralContainers":[{"image":"busybox","name":"` + name +
		`","resources":{},"securityContext":{"capabilities":{"add":["SYS_PTRACE"]}},"stdin":true,"terminationMessagePolicy":"File","tty":true}]}}`
}

func ephemeralNames(p *kube.Pod) []string {
	var names []string
	for _, e := range p.Spec.EphemeralContainers {
		names = append(names, e.Name)
	}
	return names
}

// TestEphemeralContainers: the ephemeralcontainers subresource adds
// containers to a running pod and nothing else, as the API server's does:
// the runtime starts each new one, the old ones stay as they were, the
// rest of the write is ignored, and what the API server refuses is
// refused in its words.
func TestEphemeralContainers(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{})
	pod := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default", Labels: map[string]string{"app": "p"}},
		Spec: kube.PodSpec{Containers: []kube.Container{{Name: "main", Image: "app"}}}}
	if _, err := c.CreatePod(pod); err != nil {
		t.Fatal(err)
	}

	p, err := c.StrategicPatchEphemeralContainers("default", "p", []byte(debugPatch("debugger-1")))
	if err != nil {
		t.Fatalf("kubectl debug's patch: %v", err)
	}
	if got := ephemeralNames(p); !slices.Equal(got, []string{"debugger-1"}) {
		t.Fatalf("ephemeral containers: got %v, want [debugger-1]", got)
	}
	e := p.Spec.EphemeralContainers[0]
	if e.TerminationMessagePath != "/dev/termination-log" || e.ImagePullPolicy != "Always" || !e.Stdin || !e.TTY {
		t.Errorf("the new container, defaulted: got %+v", e)
	}
	if got := fmt.Sprint(e.SecurityContext); got != "map[capabilities:map[add:[SYS_PTRACE]]]" {
		t.Errorf("its security context: got %s, want it kept as sent", got)
	}
	waitEvent(t, c, "p", "Started", 1) // debugger-1's: the fake reports no others
	var onDebugger bool
	objs, _ := c.List(Events, "default", nil)
	for _, o := range objs {
		ev := o.(*kube.Event)
		onDebugger = onDebugger || ev.InvolvedObject.FieldPath == "spec.ephemeralContainers{debugger-1}" && ev.Reason == "Started"
	}
	if !onDebugger {
		t.Errorf("no Started event on spec.ephemeralContainers{debugger-1}")
	}

	// A second, with the first named in the order; the labels the patch
	// sets, and its other spec fields (one porthole does not model too),
	// are not the subresource's.
	patch := `{"metadata":{"labels":{"app":"changed"}},"spec":{"restartPolicy":"Never","volumes":[{"name":"v","emptyDir":{}}],` +
		`"$setElementOrder/ephemeralContainers":[{"name":"debugger-1"},{"name":"debugger-2"}],"ephemeralContainers":[{"image":"busybox","name":"debugger-2"}]}}`
	if p, err = c.StrategicPatchEphemeralContainers("default", "p", []byte(patch)); err != nil {
		t.Fatalf("a second debug container: %v", err)
	}
	if got := ephemeralNames(p); !slices.Equal(got, []string{"debugger-1", "debugger-2"}) {
		t.Errorf("ephemeral containers: got %v, want [debugger-1 debugger-2]", got)
	}
	if p.Labels["app"] != "p" || p.Spec.RestartPolicy != "Always" {
		t.Errorf("labels %v, restartPolicy %s: want the pod's own, untouched", p.Labels, p.Spec.RestartPolicy)
	}
	rt.mu.Lock()
	ops := slices.Clone(rt.ops)
	rt.mu.Unlock()
	if want := []string{"add p", "ephemeral debugger-1", "ephemeral debugger-2"}; !slices.Equal(ops, want) {
		t.Errorf("runtime calls: got %v, want %v", ops, want)
	}

	// A patch without $setElementOrder puts its new container first, as
	// the API server's strategic merge does: the errors name it [0].
	var inv *InvalidError
	for _, tc := range []struct {
		name, patch, want string
		apply             func(ns, name string, patch []byte, opts ...WriteOptions) (*kube.Pod, error)
	}{
		{"removing one", `{"spec":{"ephemeralContainers":[{"name":"debugger-2","image":"busybox"}]}}`,
			`spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger-1" may not be removed`, c.PatchEphemeralContainers},
		{"changing one", `{"spec":{"ephemeralContainers":[{"name":"debugger-1","image":"alpine"}]}}`,
			`spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger-1" may not be changed`, c.StrategicPatchEphemeralContainers},
		{"a container's name", `{"spec":{"ephemeralContainers":[{"name":"main","image":"busybox"}]}}`,
			`duplicate container name "main"`, c.StrategicPatchEphemeralContainers},
		{"an unknown target", `{"spec":{"ephemeralContainers":[{"name":"d3","targetContainerName":"nope"}]}}`,
			`spec.ephemeralContainers[0].targetContainerName: Not found: "nope"`, c.StrategicPatchEphemeralContainers},
		{"an ephemeral target", `{"spec":{"ephemeralContainers":[{"name":"d3","targetContainerName":"debugger-1"}]}}`,
			`spec.ephemeralContainers[0].targetContainerName: Not found: "debugger-1"`, c.StrategicPatchEphemeralContainers},
		{"ports", `{"spec":{"ephemeralContainers":[{"name":"d3","ports":[{"containerPort":80}]}]}}`,
			`spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container`, c.StrategicPatchEphemeralContainers},
		{"a probe", `{"spec":{"ephemeralContainers":[{"name":"d3","readinessProbe":{"exec":{"command":["true"]}}}]}}`,
			`spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral Container`, c.StrategicPatchEphemeralContainers},
		{"a bad name", `{"spec":{"ephemeralContainers":[{"name":"D_3"}]}}`,
			`spec.ephemeralContainers[0].name: invalid value "D_3"`, c.StrategicPatchEphemeralContainers},
		{"through the pod itself", `{"spec":{"ephemeralContainers":[{"name":"d3","image":"busybox"}]}}`,
			podUpdateForbidden, c.StrategicPatchPod},
		{"a field porthole does not keep", `{"spec":{"ephemeralContainers":[{"name":"d3","volumeMounts":[{"name":"v","mountPath":"/v"}]}]}}`,
			`spec.ephemeralContainers[0].volumeMounts[0].mountPath: Forbidden: porthole does not support this field`, c.StrategicPatchEphemeralContainers},
	} {
		_, err := tc.apply("default", "p", []byte(tc.patch))
		if !errors.As(err, &inv) || !strings.Contains(inv.Msg, tc.want) {
			t.Errorf("%s: got %v, want an Invalid error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := c.JSONPatchEphemeralContainers("default", "p", []byte(`[{"op":"replace","path":"","value":null}]`)); err == nil {
		t.Errorf("a patch that makes the pod null: got %v, want a refusal", err)
	}
	if p, err := c.JSONPatchEphemeralContainers("default", "p", []byte(`[{"op":"add","path":"/spec/ephemeralContainers/-","value":{"name":"d3","image":"busybox"}}]`), WriteOptions{DryRun: true}); err != nil || len(p.Spec.EphemeralContainers) != 3 {
		t.Errorf("a dry run's JSON patch: %v, want three ephemeral containers in the answer", err)
	}
	rt.mu.Lock()
	after := len(rt.ops)
	rt.mu.Unlock()
	o, _ := c.Get(Pods, "default", "p")
	if after != len(ops) || len(o.(*kube.Pod).Spec.EphemeralContainers) != 2 {
		t.Errorf("after the refusals and the dry run: %d runtime calls, %d ephemeral containers; want %d and 2",
			after, len(o.(*kube.Pod).Spec.EphemeralContainers), len(ops))
	}
	if _, err := c.StrategicPatchEphemeralContainers("default", "nope", []byte(debugPatch("x"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("no such pod: got %v, want ErrNotFound", err)
	}

	// Deleting the pod stops its ephemeral containers too, and says so.
	if _, err := c.DeletePod("default", "p", 30); err != nil {
		t.Fatal(err)
	}
	killed := func() bool {
		objs, _ := c.List(Events, "default", nil)
		return slices.ContainsFunc(objs, func(o Object) bool {
			ev := o.(*kube.Event)
			return ev.Reason == "Killing" && ev.InvolvedObject.FieldPath == "spec.ephemeralContainers{debugger-2}" && ev.Message == "Stopping container debugger-2"
		})
	}
	waitFor(t, "a Killing event for debugger-2", killed)

	withOne := *pod
	withOne.Name = "q"
	withOne.Spec.EphemeralContainers = []kube.EphemeralContainer{{Container: kube.Container{Name: "d"}}}
	if _, err := c.CreatePod(&withOne); !errors.As(err, &inv) || inv.Msg != "spec.ephemeralContainers: Forbidden: cannot be set on create" {
		t.Errorf("a pod created with one: got %v", err)
	}
}

// TestEphemeralContainersUnsupported: a runtime that cannot add them is
// answered as an API server without the feature.
func TestEphemeralContainersUnsupported(t *testing.T) {
	rt := newFake()
	c := startCluster(t, struct {
		PodSource
		PodRunner
	}{rt, rt}, Objects{})
	if _, err := c.CreatePod(&kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: kube.PodSpec{Containers: []kube.Container{{Name: "main"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StrategicPatchEphemeralContainers("default", "p", []byte(debugPatch("d"))); !errors.Is(err, ErrNoEphemeral) {
		t.Errorf("got %v, want ErrNoEphemeral", err)
	}
}
