package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// setContainers replaces a pod's container statuses, as the runtime's
// readings of its processes would.
func (f *fakeRuntime) setContainers(ns, name string, cs ...kube.ContainerStatus) {
	f.mu.Lock()
	f.pods[key{ns, name}].Status.ContainerStatuses = cs
	f.mu.Unlock()
	f.notify()
}

func running(id string, restarts int32) kube.ContainerStatus {
	return kube.ContainerStatus{Name: "c", ContainerID: "porthole://" + id, RestartCount: restarts,
		State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: "2026-12-06T12:00:00Z"}}}
}

func backingOff(id string, restarts int32, reason string) kube.ContainerStatus {
	return kube.ContainerStatus{Name: "c", ContainerID: "porthole://" + id, RestartCount: restarts,
		State:                kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 3, Reason: reason, Message: "exec: \"nope\": not found"}}}
}

// eventsOf returns the events about the named object by reason.
func eventsOf(c *Cluster, name string) map[string]*kube.Event {
	out := map[string]*kube.Event{}
	objs, _ := c.List(Events, "default", func(o Object) bool { return o.(*kube.Event).InvolvedObject.Name == name })
	for _, o := range objs {
		e := o.(*kube.Event)
		out[e.Reason] = e
	}
	return out
}

// waitEvent waits until the object's event of this reason has been seen
// count times.
func waitEvent(t *testing.T, c *Cluster, name, reason string, count int32) *kube.Event {
	t.Helper()
	var e *kube.Event
	waitFor(t, fmt.Sprintf("%s event %s x%d", name, reason, count), func() bool {
		e = eventsOf(c, name)[reason]
		return e != nil && e.Count == count
	})
	return e
}

// TestPodEvents: a pod's life as the kubelet tells it: scheduled, a
// container created and started, backing off after a crash, started
// again, failing to start, stopped on deletion; what repeats is counted.
func TestPodEvents(t *testing.T) {
	p := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default", UID: "uid-p"},
		Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c"}}}}
	rt := newFake(p)
	rt.setContainers("default", "p", running("1", 0))
	c := startCluster(t, rt, Objects{Pods: []*kube.Pod{p}})

	sched := waitEvent(t, c, "p", "Scheduled", 1)
	if sched.Message != "Successfully assigned default/p to porthole" || sched.Source.Component != "default-scheduler" || sched.Type != "Normal" {
		t.Errorf("Scheduled: %+v", sched)
	}
	started := waitEvent(t, c, "p", "Started", 1)
	want := kube.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p", UID: "uid-p", APIVersion: "v1",
		ResourceVersion: started.InvolvedObject.ResourceVersion, FieldPath: "spec.containers{c}"}
	if started.InvolvedObject != want || started.Message != "Started container c" ||
		started.Source != (kube.EventSource{Component: "kubelet", Host: "porthole"}) || started.ReportingController != "kubelet" {
		t.Errorf("Started: %+v", started)
	}
	if e := waitEvent(t, c, "p", "Created", 1); e.Message != "Created container: c" {
		t.Errorf("Created: %+v", e)
	}

	rt.setContainers("default", "p", backingOff("1", 1, "Error"))
	backOff := waitEvent(t, c, "p", "BackOff", 1)
	if backOff.Type != "Warning" || backOff.Message != "Back-off restarting failed container c in pod p_default(uid-p)" {
		t.Errorf("BackOff: %+v", backOff)
	}
	rt.setContainers("default", "p", running("2", 1))
	waitEvent(t, c, "p", "Started", 2)
	waitEvent(t, c, "p", "Created", 2)
	rt.setContainers("default", "p", backingOff("2", 2, "Error"))
	again := waitEvent(t, c, "p", "BackOff", 2)
	if again.Name != backOff.Name || again.FirstTimestamp != backOff.FirstTimestamp {
		t.Errorf("BackOff again: %+v, want the first one counted", again)
	}
	rt.setContainers("default", "p", backingOff("3", 3, "StartError"))
	if e := waitEvent(t, c, "p", "Failed", 1); e.Type != "Warning" || e.Message != `Error: exec: "nope": not found` {
		t.Errorf("Failed: %+v", e)
	}
	waitEvent(t, c, "p", "BackOff", 3)
	if e := eventsOf(c, "p")["Started"]; e.Count != 2 {
		t.Errorf("a failed start counted as started: %+v", e)
	}

	rt.setContainers("default", "p", running("4", 3))
	waitEvent(t, c, "p", "Started", 3)
	if _, err := c.DeletePod("default", "p", 30); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, c, "p", "Killing", 1); e.Message != "Stopping container c" {
		t.Errorf("Killing: %+v", e)
	}
}

// TestWorkloadEvents: a Deployment scaling its ReplicaSet, and the
// ReplicaSet creating and deleting pods, as their controllers tell it.
func TestWorkloadEvents(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{Deployments: []*kube.Deployment{deployment("web", 2)}})
	var rs *kube.ReplicaSet
	waitFor(t, "the replica set", func() bool {
		objs, _ := c.List(ReplicaSets, "default", nil)
		if len(objs) == 1 {
			rs = objs[0].(*kube.ReplicaSet)
		}
		return rs != nil
	})
	scaled := waitEvent(t, c, "web", "ScalingReplicaSet", 1)
	if scaled.Message != "Scaled up replica set "+rs.Name+" from 0 to 2" || scaled.InvolvedObject.Kind != "Deployment" ||
		scaled.InvolvedObject.APIVersion != "apps/v1" || scaled.Source.Component != "deployment-controller" {
		t.Errorf("ScalingReplicaSet: %+v", scaled)
	}
	var created []string
	waitFor(t, "two SuccessfulCreate events", func() bool {
		created = created[:0]
		objs, _ := c.List(Events, "default", func(o Object) bool { return o.(*kube.Event).Reason == "SuccessfulCreate" })
		for _, o := range objs {
			e := o.(*kube.Event)
			if e.InvolvedObject.Kind != "ReplicaSet" || e.InvolvedObject.Name != rs.Name || e.Source.Component != "replicaset-controller" {
				t.Fatalf("SuccessfulCreate: %+v", e)
			}
			created = append(created, strings.TrimPrefix(e.Message, "Created pod: "))
		}
		return len(created) == 2
	})
	for _, name := range created {
		waitEvent(t, c, name, "Scheduled", 1)
	}

	if _, err := c.PatchDeployment("default", "web", []byte(`{"spec":{"replicas":1}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scale-down event", func() bool {
		objs, _ := c.List(Events, "default", func(o Object) bool {
			return o.(*kube.Event).Message == "Scaled down replica set "+rs.Name+" from 2 to 1"
		})
		return len(objs) == 1
	})
	waitFor(t, "a SuccessfulDelete event", func() bool {
		objs, _ := c.List(Events, "default", func(o Object) bool { return o.(*kube.Event).Reason == "SuccessfulDelete" })
		return len(objs) == 1 && strings.HasPrefix(objs[0].(*kube.Event).Message, "Deleted pod: "+rs.Name+"-")
	})
}

// TestEventBounds: events not seen again for an hour are forgotten, and
// at most maxEvents are kept, the oldest going first, each with its
// DELETED change for watchers.
func TestEventBounds(t *testing.T) {
	c, err := New(newFake(), Objects{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	pod := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default", UID: "uid-p"}}
	emit := func(msg string) {
		c.mu.Lock()
		c.emitLocked(pod, "", "Normal", "Test", msg, kubelet)
		c.mu.Unlock()
	}
	count := func() int {
		objs, _ := c.List(Events, "", nil)
		return len(objs)
	}
	emit("old")
	now = now.Add(30 * time.Minute)
	emit("recent")
	emit("old") // counted again: but expiry goes by creation order
	now = now.Add(31 * time.Minute)
	emit("new")
	if n := count(); n != 3 {
		t.Errorf("after an hour: %d events, want 3 (the old one, seen again 31m ago, kept behind nothing)", n)
	}
	now = now.Add(time.Hour)
	emit("newest")
	if n := count(); n != 1 {
		t.Errorf("after two hours: %d events, want only the newest", n)
	}
	// The DELETED changes for watchers, counted in the history in two
	// parts: the burst below pushes the first out of it.
	deletedSince := func(rv uint64) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := 0
		for _, e := range c.keptLocked() {
			if e.RV > rv && e.Resource == Events && e.Type == "DELETED" {
				n++
			}
		}
		return n
	}
	deleted := deletedSince(0)
	c.mu.Lock()
	beforeBurst := c.rv
	c.mu.Unlock()
	for i := range maxEvents + 10 {
		now = now.Add(time.Millisecond)
		emit(fmt.Sprint("burst ", i))
	}
	objs, _ := c.List(Events, "", nil)
	if len(objs) != maxEvents {
		t.Fatalf("%d events kept, want %d", len(objs), maxEvents)
	}
	for _, o := range objs {
		if m := o.(*kube.Event).Message; m == "newest" || m == "burst 9" {
			t.Errorf("event %q kept past the bound", m)
		}
	}
	deleted += deletedSince(beforeBurst)
	if deleted != 14 {
		t.Errorf("%d DELETED changes of events for watchers, want 14", deleted)
	}
}
