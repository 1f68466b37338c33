package localrt

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// jsonOf is v's JSON form.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ephemeralStatus(p *kube.Pod, name string) *kube.ContainerStatus {
	for i := range p.Status.EphemeralContainerStatuses {
		if s := &p.Status.EphemeralContainerStatuses[i]; s.Name == name {
			return s
		}
	}
	return nil
}

// TestEphemeralContainer: a debugging container joins a running pod
// (kubectl debug), is attached to like the others, is reported apart from
// them, is never restarted, and goes with the pod.
func TestEphemeralContainer(t *testing.T) {
	r := start(t, testPod("p", kube.Container{Command: []string{"sleep", "infinity"}}, restartAlways))
	attached := attachHook(r)
	waitPod(t, r, "p", "running", isRunning)

	dbg := kube.EphemeralContainer{
		Container:           kube.Container{Name: "debugger", Command: []string{"sh", "-c", "read line; echo got $line; exit 3"}, Stdin: true},
		TargetContainerName: "main",
		SecurityContext:     map[string]any{"capabilities": map[string]any{"add": []any{"SYS_PTRACE"}}},
	}
	if err := r.AddEphemeralContainer("default", "p", dbg); err != nil {
		t.Fatalf("AddEphemeralContainer: %v", err)
	}
	p := waitPod(t, r, "p", "running its debugger", func(p *kube.Pod) bool {
		s := ephemeralStatus(p, "debugger")
		return s != nil && s.State.Running != nil
	})
	if len(p.Spec.EphemeralContainers) != 1 || jsonOf(t, p.Spec.EphemeralContainers[0]) != jsonOf(t, dbg) {
		t.Errorf("spec.ephemeralContainers: got %+v, want %+v", p.Spec.EphemeralContainers, dbg)
	}
	if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].Name != "main" {
		t.Errorf("containerStatuses: got %+v, want main's only", p.Status.ContainerStatuses)
	}

	in, inW := osPipe(t)
	out := newLineReader(t)
	done := make(chan error, 1)
	go func() {
		done <- r.Attach(context.Background(), ref("p", "debugger"), node.Streams{Stdin: in, Stdout: out.pw})
	}()
	<-attached
	inW.WriteString("hello\n")
	if got := out.until(t, "hello"); got != "got hello\n" {
		t.Errorf("attached output: got %q, want %q", got, "got hello\n")
	}
	if err := <-done; err != nil {
		t.Errorf("Attach: %v", err)
	}
	inW.Close()

	p = waitPod(t, r, "p", "reporting its debugger's exit", func(p *kube.Pod) bool {
		s := ephemeralStatus(p, "debugger")
		return s != nil && s.State.Terminated != nil
	})
	// A restart would come within the tests' backoff (at most 4 ms);
	// give it far longer.
	time.Sleep(200 * time.Millisecond)
	p, err := r.Pod(t.Context(), "default", "p")
	if err != nil {
		t.Fatal(err)
	}
	s := ephemeralStatus(p, "debugger")
	if s.State.Terminated == nil || s.State.Terminated.ExitCode != 3 || s.RestartCount != 0 || s.Ready {
		t.Errorf("debugger's status: got %+v, want terminated with 3, never restarted, not ready", s)
	}
	if p.Status.Phase != phaseRunning {
		t.Errorf("phase: got %s, want Running (ephemeral containers do not count)", p.Status.Phase)
	}
	if logs, err := r.Logs(t.Context(), ref("p", "debugger"), false); err != nil || string(logs) != "got hello\n" {
		t.Errorf("logs: %v, %q, want %q", err, logs, "got hello\n")
	}

	for _, tc := range []struct {
		name string
		pod  string
		spec kube.EphemeralContainer
		want error
	}{
		{"a name taken by a container", "p", kube.EphemeralContainer{Container: kube.Container{Name: "main"}}, ErrExists},
		{"a name taken by an ephemeral container", "p", kube.EphemeralContainer{Container: kube.Container{Name: "debugger"}}, ErrExists},
		{"no such pod", "q", kube.EphemeralContainer{Container: kube.Container{Name: "x"}}, node.ErrNotFound},
	} {
		if err := r.AddEphemeralContainer("default", tc.pod, tc.spec); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := r.AddEphemeralContainer("default", "p", kube.EphemeralContainer{Container: kube.Container{Name: "Bad_Name"}}); err == nil {
		t.Errorf("an invalid name: got nil, want an error")
	}

	// A running ephemeral container stops with its pod.
	if err := r.AddEphemeralContainer("default", "p", kube.EphemeralContainer{Container: kube.Container{Name: "sleeper", Command: []string{"sleep", "infinity"}}}); err != nil {
		t.Fatalf("AddEphemeralContainer: %v", err)
	}
	waitPod(t, r, "p", "running its sleeper", func(p *kube.Pod) bool {
		s := ephemeralStatus(p, "sleeper")
		return s != nil && s.State.Running != nil
	})
	ct, err := r.lookupContainer(ref("p", "sleeper"))
	if err != nil {
		t.Fatal(err)
	}
	pid := ct.currentRun().p.pgid
	if err := r.RemovePod("default", "p"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

// TestEphemeralContainersAtNew: a pod given with ephemeral containers (a
// node agent's pod bound again) runs them too, apart from the others.
func TestEphemeralContainersAtNew(t *testing.T) {
	pod := testPod("p", kube.Container{Command: []string{"sleep", "infinity"}}, "")
	pod.Spec.EphemeralContainers = []kube.EphemeralContainer{{Container: kube.Container{Name: "dbg", Command: []string{"sleep", "infinity"}}}}
	r := start(t, pod)
	p := waitPod(t, r, "p", "running its debugger", func(p *kube.Pod) bool {
		s := ephemeralStatus(p, "dbg")
		return s != nil && s.State.Running != nil
	})
	if len(p.Spec.Containers) != 1 || len(p.Spec.EphemeralContainers) != 1 || len(p.Status.ContainerStatuses) != 1 {
		t.Errorf("got %d containers, %d ephemeral, %d statuses; want 1 each", len(p.Spec.Containers), len(p.Spec.EphemeralContainers), len(p.Status.ContainerStatuses))
	}
	dup := testPod("d", kube.Container{Command: []string{"true"}}, "")
	dup.Spec.EphemeralContainers = []kube.EphemeralContainer{{Container: kube.Container{Name: "main"}}}
	if _, err := New([]*kube.Pod{dup}, nil); err == nil || !strings.Contains(err.Error(), "duplicate container name") {
		t.Errorf("an ephemeral container named as a container: got %v, want a duplicate name error", err)
	}
}

// TestEphemeralContainersThatRanBefore: a pod given with ephemeral
// containers and their statuses (bound again after a node restart) does
// not run again those that ran: one that ended keeps its end, one that
// was running ended with the node (the kubelet's ContainerStatusUnknown);
// one still waiting runs now.
func TestEphemeralContainersThatRanBefore(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) []string {
		return []string{"sh", "-c", "touch " + dir + "/" + name + "; sleep infinity"}
	}
	pod := testPod("p", kube.Container{Command: []string{"sleep", "infinity"}}, "")
	pod.Spec.EphemeralContainers = []kube.EphemeralContainer{
		{Container: kube.Container{Name: "ended", Command: touch("ended")}},
		{Container: kube.Container{Name: "was-running", Command: touch("was-running")}},
		{Container: kube.Container{Name: "waiting", Command: touch("waiting")}},
	}
	pod.Status.EphemeralContainerStatuses = []kube.ContainerStatus{
		{Name: "ended", ContainerID: "porthole://abc", State: kube.ContainerState{Terminated: &kube.StateTerminated{
			ExitCode: 3, Reason: "Error", StartedAt: "2026-12-07T10:00:00Z", FinishedAt: "2026-12-07T10:01:00Z"}}},
		{Name: "was-running", ContainerID: "porthole://def", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: "2026-12-07T10:00:00Z"}}},
		{Name: "waiting", State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "ContainerCreating"}}},
	}
	r := start(t, pod)
	p := waitPod(t, r, "p", "running the waiting one", func(p *kube.Pod) bool {
		s := ephemeralStatus(p, "waiting")
		return s != nil && s.State.Running != nil
	})
	want := map[string]kube.StateTerminated{
		"ended":       {ExitCode: 3, Reason: "Error", StartedAt: "2026-12-07T10:00:00Z", FinishedAt: "2026-12-07T10:01:00Z"},
		"was-running": {ExitCode: 137, Reason: "ContainerStatusUnknown", Message: "The container could not be located when the pod was terminated", StartedAt: "2026-12-07T10:00:00Z"},
	}
	for name, w := range want {
		s := ephemeralStatus(p, name)
		if s == nil || s.State.Terminated == nil || *s.State.Terminated != w || s.State.Running != nil {
			t.Errorf("%s: %s, want terminated %+v", name, jsonOf(t, s), w)
		}
	}
	if len(p.Spec.EphemeralContainers) != 3 || len(p.Status.EphemeralContainerStatuses) != 3 {
		t.Errorf("%d ephemeral containers, %d statuses; want 3 each", len(p.Spec.EphemeralContainers), len(p.Status.EphemeralContainerStatuses))
	}
	// The waiting one ran (its file is there); the other two never did.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "waiting")); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for name, ran := range map[string]bool{"ended": false, "was-running": false, "waiting": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != ran {
			t.Errorf("%s ran: %v, want %v", name, err == nil, ran)
		}
	}
}
