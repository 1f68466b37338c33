package localrt

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

func TestNewValidation(t *testing.T) {
	ok := kube.Container{Name: "a"}
	tests := []struct {
		name string
		pods []*kube.Pod
		want string // substring of the error; "" for success
	}{
		{"valid", []*kube.Pod{testPod("p", ok, ""), testPod("q", ok, restartNever)}, ""},
		{"same name other namespace", []*kube.Pod{testPod("p", ok, ""), func() *kube.Pod {
			p := testPod("p", ok, "")
			p.Namespace = "other"
			return p
		}()}, ""},
		{"duplicate pod", []*kube.Pod{testPod("p", ok, ""), testPod("p", ok, "")}, "duplicate"},
		{"duplicate container", []*kube.Pod{{ObjectMeta: kube.ObjectMeta{Name: "p"},
			Spec: kube.PodSpec{Containers: []kube.Container{ok, ok}}}}, "duplicate container"},
		{"no containers", []*kube.Pod{{ObjectMeta: kube.ObjectMeta{Name: "p"}}}, "no containers"},
		{"bad restart policy", []*kube.Pod{testPod("p", ok, "Sometimes")}, "restartPolicy"},
		{"bad pod name", []*kube.Pod{testPod("../x", ok, "")}, "invalid pod name"},
		{"empty pod name", []*kube.Pod{testPod("", ok, "")}, "invalid pod name"},
		{"bad container name", []*kube.Pod{testPod("p", kube.Container{Name: "A_B"}, "")}, "invalid container name"},
		{"init containers", []*kube.Pod{{ObjectMeta: kube.ObjectMeta{Name: "p"},
			Spec: kube.PodSpec{Containers: []kube.Container{ok}, InitContainers: []kube.Container{{Name: "i"}}}}}, "initContainers"},
		{"stdinOnce without stdin", []*kube.Pod{testPod("p", kube.Container{Name: "a", StdinOnce: true}, "")}, "stdinOnce"},
		{"nil pod", []*kube.Pod{nil}, "nil pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.pods, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				r.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPodStatus(t *testing.T) {
	in := testPod("p", kube.Container{Image: "busybox:1.36"}, "")
	in.Labels = map[string]string{"app": "x"}
	r, err := New([]*kube.Pod{in}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if in.Namespace != "" || in.UID != "" {
		t.Errorf("New changed the caller's pod: %+v", in.ObjectMeta)
	}
	p, err := r.Pod(context.Background(), "default", "p")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != phasePending || p.Status.ContainerStatuses[0].State.Waiting == nil {
		t.Errorf("before Start: got phase %q state %+v, want Pending, waiting", p.Status.Phase, p.Status.ContainerStatuses[0].State)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	p = waitPod(t, r, "p", "running", isRunning)
	cs := p.Status.ContainerStatuses[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"kind", p.Kind, "Pod"},
		{"apiVersion", p.APIVersion, "v1"},
		{"namespace", p.Namespace, "default"},
		{"uid length", len(p.UID), 36},
		{"creationTimestamp set", p.CreationTimestamp != "", true},
		{"restartPolicy", p.Spec.RestartPolicy, restartAlways},
		{"nodeName", p.Spec.NodeName, "porthole"},
		{"podIP", p.Status.PodIP, "127.0.0.1"},
		{"hostIP", p.Status.HostIP, "127.0.0.1"},
		{"startTime set", p.Status.StartTime != "", true},
		{"name", cs.Name, "main"},
		{"ready", cs.Ready, true},
		{"started", cs.Started != nil && *cs.Started, true},
		{"image", cs.Image, "busybox:1.36"},
		{"containerID", strings.HasPrefix(cs.ContainerID, "porthole://") && len(cs.ContainerID) == len("porthole://")+64, true},
		{"running startedAt", cs.State.Running.StartedAt != "", true},
		{"restartCount", cs.RestartCount, int32(0)},
		{"label", p.Labels["app"], "x"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	conds := map[string]string{}
	for _, c := range p.Status.Conditions {
		conds[c.Type] = c.Status
	}
	for _, typ := range []string{"Ready", "ContainersReady", "Initialized", "PodScheduled"} {
		if conds[typ] != "True" {
			t.Errorf("condition %s: got %q, want True", typ, conds[typ])
		}
	}
	// A deep copy: changing it changes nothing inside.
	p.Labels["app"] = "changed"
	p.Spec.Containers[0].Name = "changed"
	again, _ := r.Pod(context.Background(), "default", "p")
	if again.Labels["app"] != "x" || again.Spec.Containers[0].Name != "main" {
		t.Errorf("Pod returned shared state: labels %v, container %q", again.Labels, again.Spec.Containers[0].Name)
	}
	if _, err := r.Pod(context.Background(), "default", "nope"); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("unknown pod: got %v, want ErrNotFound", err)
	}
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		name, policy string
		cmd          []string
		phase        string
		minRestarts  int32
		exit         int32
		reason       string
	}{
		{"Always restarts failures", restartAlways, []string{"sh", "-c", "exit 1"}, phaseRunning, 3, 1, "Error"},
		{"Always restarts successes", restartAlways, []string{"true"}, phaseRunning, 3, 0, "Completed"},
		{"OnFailure restarts failures", restartOnFailure, []string{"sh", "-c", "exit 2"}, phaseRunning, 3, 2, "Error"},
		{"OnFailure stops on success", restartOnFailure, []string{"true"}, phaseSucceeded, 0, 0, "Completed"},
		{"Never success", restartNever, []string{"true"}, phaseSucceeded, 0, 0, "Completed"},
		{"Never failure", restartNever, []string{"sh", "-c", "exit 3"}, phaseFailed, 0, 3, "Error"},
		// $$ is an escaped $ in a container command, as in Kubernetes.
		{"Never killed", restartNever, []string{"sh", "-c", "kill -9 $$$$"}, phaseFailed, 0, 137, "Error"},
		{"Never start error", restartNever, []string{"no-such-command-porthole"}, phaseFailed, 0, 128, "StartError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := start(t, testPod("p", kube.Container{Command: tt.cmd}, tt.policy))
			p := waitPod(t, r, "p", "settled", func(p *kube.Pod) bool {
				cs := p.Status.ContainerStatuses[0]
				return p.Status.Phase == tt.phase && cs.RestartCount >= tt.minRestarts &&
					(cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil)
			})
			cs := p.Status.ContainerStatuses[0]
			term := cs.State.Terminated
			if tt.minRestarts > 0 {
				term = cs.LastTerminationState.Terminated
			}
			if term == nil || term.ExitCode != tt.exit || term.Reason != tt.reason {
				t.Fatalf("got state %+v last %+v, want exit %d reason %s", cs.State, cs.LastTerminationState, tt.exit, tt.reason)
			}
			if tt.minRestarts == 0 && cs.RestartCount != 0 {
				t.Errorf("restartCount: got %d, want 0", cs.RestartCount)
			}
			if tt.exit == 137 && term.Signal != 9 {
				t.Errorf("signal: got %d, want 9", term.Signal)
			}
		})
	}
}

// TestRestartFreshStdin: a stdinOnce container whose stdin was closed gets
// a new one when it restarts.
func TestRestartFreshStdin(t *testing.T) {
	r := start(t, testPod("p", kube.Container{Command: []string{"cat"}, Stdin: true, StdinOnce: true}, restartAlways))
	waitPod(t, r, "p", "running", isRunning)
	for i := int32(0); i < 2; i++ {
		in, inW := osPipe(t)
		var out strings.Builder
		done := make(chan error, 1)
		go func() {
			done <- r.Attach(context.Background(), ref("p", "main"), node.Streams{Stdin: in, Stdout: &out})
		}()
		inW.WriteString("x\n")
		inW.Close()
		if err := <-done; err != nil {
			t.Fatalf("Attach %d: %v", i, err)
		}
		if out.String() != "x\n" {
			t.Errorf("run %d: got %q, want %q", i, out.String(), "x\n")
		}
		waitPod(t, r, "p", "restarted", func(p *kube.Pod) bool {
			return isRunning(p) && p.Status.ContainerStatuses[0].RestartCount == i+1
		})
	}
}

func TestClose(t *testing.T) {
	r := startOpts(t, &Options{KillGrace: 100 * time.Millisecond},
		testPod("sleeper", kube.Container{}, ""),
		testPod("stubborn", kube.Container{Command: []string{"sh", "-c", `trap '' TERM; read x; sleep 1000 & echo "$!"; wait`}, Stdin: true}, ""),
		testPod("tty", kube.Container{Stdin: true, TTY: true}, ""))
	attached := attachHook(r)
	var pids []int
	for _, name := range []string{"sleeper", "stubborn", "tty"} {
		waitPod(t, r, name, "running", isRunning)
		pids = append(pids, r.pods[podKey{"default", name}].containers[0].currentRun().p.pgid)
	}
	// The stubborn container's child ignores SIGTERM too.
	in, inW := osPipe(t)
	childOut := newLineReader(t)
	ctx, cancel := context.WithCancel(context.Background())
	childDone := make(chan error, 1)
	go func() {
		childDone <- r.Attach(ctx, ref("stubborn", "main"), node.Streams{Stdin: in, Stdout: childOut.pw})
	}()
	<-attached
	inW.WriteString("\n")
	pids = append(pids, atoi(t, childOut.until(t, "\n")))
	cancel()
	if err := <-childDone; err != nil {
		t.Fatalf("Attach: %v", err)
	}
	// An attach and an exec in flight end with Close.
	attachDone, execDone := make(chan error, 1), make(chan error, 1)
	go func() {
		attachDone <- r.Attach(context.Background(), ref("tty", "main"), node.Streams{Stdout: &strings.Builder{}})
	}()
	<-attached
	out := newLineReader(t)
	go func() {
		execDone <- r.Exec(context.Background(), ref("sleeper", "main"), []string{"sh", "-c", `echo "$$"; exec sleep 1000`}, node.Streams{Stdout: out.pw})
	}()
	pids = append(pids, atoi(t, out.until(t, "\n")))
	dir := r.stateDir
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-attachDone; err != nil {
		t.Errorf("Attach: got %v, want nil", err)
	}
	if err := <-execDone; err == nil {
		t.Errorf("Exec: got nil, want an error")
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state dir %s: got %v, want it removed", dir, err)
	}
	if err := r.Exec(context.Background(), ref("sleeper", "main"), []string{"true"}, node.Streams{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Exec after Close: got %v, want ErrClosed", err)
	}
	p, _ := r.Pod(context.Background(), "default", "sleeper")
	if term := p.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 143 {
		t.Errorf("after Close: got state %+v, want terminated by SIGTERM (143)", p.Status.ContainerStatuses[0].State)
	}
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return n
}

// After Start, every container's main process has started: exec works at
// once, with no wait for a status change.
func TestStartReturnsOnceContainersRun(t *testing.T) {
	var pods []*kube.Pod
	for i := 0; i < 8; i++ {
		pods = append(pods, testPod("p"+string(rune('a'+i)), kube.Container{Command: []string{"sleep", "1000"}}, restartNever))
	}
	pods = append(pods, testPod("broken", kube.Container{Command: []string{"/nonexistent/cmd"}}, restartNever))
	r := start(t, pods...)
	for _, p := range pods[:8] {
		got, err := r.Pod(context.Background(), "default", p.Name)
		if err != nil {
			t.Fatal(err)
		}
		if st := got.Status.ContainerStatuses[0].State; st.Running == nil {
			t.Errorf("pod %s right after Start: %+v, want running", p.Name, st)
		}
	}
	got, _ := r.Pod(context.Background(), "default", "broken")
	if st := got.Status.ContainerStatuses[0].State; st.Terminated == nil || st.Terminated.Reason != "StartError" {
		t.Errorf("broken pod right after Start: %+v, want terminated with StartError", st)
	}
}

// TestForcedRemovalHurries: a pod whose processes ignore SIGTERM, being
// removed with a long grace period, is killed at once by a forced removal
// (kubectl delete --force after a graceful delete), and both calls end.
func TestForcedRemovalHurries(t *testing.T) {
	rt := start(t)
	if err := rt.AddPod(testPod("stubborn", kube.Container{Command: []string{"sh", "-c", "trap '' TERM; echo ready; exec sleep 1000"}}, "")); err != nil {
		t.Fatal(err)
	}
	// Running is not enough: SIGTERM before the trap would end it.
	for {
		if b, _ := rt.Logs(t.Context(), ref("stubborn", "main"), false); string(b) == "ready\n" {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling a state, not ordering events
	}
	graceful := make(chan error, 1)
	go func() { graceful <- rt.RemovePodGrace("default", "stubborn", 30*time.Second) }()
	// The graceful removal has taken the pod (it is gone from the runtime)
	// and waits for its processes.
	for {
		if _, err := rt.Pod(t.Context(), "default", "stubborn"); errors.Is(err, node.ErrNotFound) {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling a state, not ordering events
	}
	select {
	case err := <-graceful:
		t.Fatalf("the graceful removal ended before the forced one: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := rt.RemovePodGrace("default", "stubborn", -1); err != nil {
		t.Fatalf("forced removal: %v", err)
	}
	select {
	case err := <-graceful:
		if err != nil {
			t.Errorf("graceful removal: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the forced removal did not cut the grace period short")
	}
	if err := rt.RemovePodGrace("default", "stubborn", -1); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("forced removal of a removed pod: %v, want ErrNotFound", err)
	}
}

// TestAddRemovePod: a pod added to a started Runtime runs and is served
// like the first ones; removed, its processes end and it is gone.
func TestAddRemovePod(t *testing.T) {
	rt := start(t, testPod("first", kube.Container{Command: []string{"sleep", "infinity"}}, ""))
	added := testPod("late", kube.Container{Command: []string{"sleep", "infinity"}}, "")
	if err := rt.AddPod(added); err != nil {
		t.Fatal(err)
	}
	if err := rt.AddPod(added); !errors.Is(err, ErrExists) {
		t.Errorf("second AddPod: %v, want ErrExists", err)
	}
	waitPod(t, rt, "late", "running", isRunning)
	var out strings.Builder
	err := rt.Exec(t.Context(), ref("late", "main"), []string{"echo", "hello"}, node.Streams{Stdout: &out})
	if err != nil || out.String() != "hello\n" {
		t.Fatalf("exec in the added pod: %v, output %q", err, out.String())
	}
	pods, err := rt.Pods()
	if err != nil || len(pods) != 2 || pods[1].Name != "late" {
		t.Fatalf("Pods: %v, %d pods, want first and late", err, len(pods))
	}
	if err := rt.RemovePod("default", "late"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Pod(t.Context(), "default", "late"); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("removed pod: %v, want ErrNotFound", err)
	}
	if err := rt.RemovePod("default", "late"); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("second RemovePod: %v, want ErrNotFound", err)
	}
	if p, err := rt.Pod(t.Context(), "default", "first"); err != nil || !isRunning(p) {
		t.Errorf("the other pod: %v, running %t", err, err == nil && isRunning(p))
	}
}
