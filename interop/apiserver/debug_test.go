package apiserver

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestBoundPodDebug: `kubectl debug -it` on a pod the API server bound to
// a porthole node: the API server takes the ephemeral container (its
// ephemeralcontainers subresource), the node starts it as a kubelet does
// and publishes its status, kubectl sees it run and attaches through the
// API server, and the shell sees kubectl's terminal and typed line. The
// oldest and the newest kubectl here, each on its default wire.
func TestBoundPodDebug(t *testing.T) {
	n := env.nodes[0]
	pod := boundPod(t, n, "bound-debug")
	for _, k := range []harness.Kubectl{env.kubectls[0], env.kubectls[len(env.kubectls)-1]} {
		t.Run(k.Name(), direct(k, k.Wires()[0], n, t.TempDir()).testDebug(pod))
	}
	for _, w := range portholeWires {
		c := direct(harness.Kubectl{}, w, n, t.TempDir())
		c.porthole = true
		t.Run("porthole/"+w.Name, c.testDebug(pod))
	}
}

// TestGatewayDebug: the same through `porthole gateway --impersonate`,
// which forwards the ephemeralcontainers patch as the caller (RBAC's
// patch of pods/ephemeralcontainers) and the attach as any session: the
// newest kubectl and porthole's client.
func TestGatewayDebug(t *testing.T) {
	n := env.nodes[0]
	pod := boundPod(t, n, "gateway-debug")
	gw := startImpersonatingGateway(t, "debug", nil)
	k := env.kubectls[len(env.kubectls)-1]
	t.Run(k.Name(), gw.kc(k, k.Wires()[0], n, t.TempDir(), gatewayModes[0]).testDebug(pod))
	c := gw.kc(harness.Kubectl{}, portholeWires[0], n, t.TempDir(), gatewayModes[0])
	c.porthole = true
	t.Run("porthole/"+portholeWires[0].Name, c.testDebug(pod))
}

// boundPod creates a pod bound to n that sleeps, waits until it runs,
// and deletes it when the test ends.
func boundPod(t *testing.T, n *node, name string) string {
	t.Helper()
	ctx := t.Context()
	ensureServiceAccount(t)
	no := false
	pods := env.cp.Admin.CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{NodeName: n.name, AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{Name: "main", Image: "local", Command: []string{"sleep", "infinity"}}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		_ = pods.Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	if _, err := env.cp.AwaitPodRunning(ctx, "default", name); err != nil {
		t.Fatalf("%v\nnode log:\n%s", err, n.logTail(4096))
	}
	return name
}

// testDebug runs `debug -it` on pod with c's client and checks the
// session and the status the node published.
func (c *kc) testDebug(pod string) func(*testing.T) {
	return func(t *testing.T) { c.debug(t, pod) }
}

func (c *kc) debug(t *testing.T, pod string) {
	ctx := t.Context()
	name := fmt.Sprintf("debug-%s-%s", strings.ReplaceAll(strings.TrimPrefix(c.name(), "kubectl-"), ".", "-"), c.w.Name)
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	cmd := c.command(cctx, c.admin, "debug", "-it", pod, "--image=busybox", "-c", name,
		"--", "sh", "-c", `while read x; do stty size; [ -n "$x" ] && break; done; echo "got-$x"; exit 3`)
	s := harness.StartPTY(t, cmd, cancel, 29, 97)
	// The shell waits for the line, so nothing it prints comes before the
	// client has attached.
	// The client sends the terminal's size grown by one, then the size
	// (kubectl's redraw trick), on the resize channel, which races the
	// typed lines on stdin: each empty line asks the size again, until it
	// is the terminal's; the line typed then ends the shell.
	got := s.AwaitSize(t, "\n", "29 97")
	if got != "29 97" {
		t.Errorf("stty size in the debug container: got %q, want %q", got, "29 97")
	}
	if _, err := io.WriteString(s.Ptmx, "hello\n"); err != nil {
		t.Fatal(err)
	}
	code, rest := s.Wait(t)
	if code != 0 || !slices.Contains(rest, "got-hello") ||
		!slices.ContainsFunc(rest, func(l string) bool { return strings.HasPrefix(l, "Session ended") }) {
		t.Errorf("debug: exit %d, output %q; want 0, got-hello and Session ended\nnode log:\n%s", code, rest, c.n.logTail(4096))
	}
	// The node publishes the end, as the kubelet does.
	var st *corev1.ContainerStatus
	awaitPod(t, c.n, pod, "the ephemeral container's end in the API server", func(p *corev1.Pod) bool {
		st = ephemeralState(p, name)
		return st != nil && st.State.Terminated != nil
	})
	if st.State.Terminated.ExitCode != 3 || st.RestartCount != 0 {
		t.Errorf("the ephemeral container's status: %+v, want terminated with 3, no restart", st)
	}
}

// TestNodeRestartKeepsEphemeralEnded: when its node restarts, a bound
// pod's ephemeral container that ran is not run again, as the kubelet
// never runs one twice: the first status the node publishes after the
// restart (a new run of the pod's own container) keeps the ephemeral
// container's end, and its command left one mark, not two.
func TestNodeRestartKeepsEphemeralEnded(t *testing.T) {
	ctx := t.Context()
	n := &node{name: "porthole-restart", declared: true, suffix: "restart"}
	if err := startNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.stop(); err != nil {
			t.Error(err)
		}
		_ = env.cp.Admin.CoreV1().Nodes().Delete(context.Background(), n.name, metav1.DeleteOptions{})
	})
	pod := boundPod(t, n, "restart-debug")
	pods := env.cp.Admin.CoreV1().Pods("default")
	marks := filepath.Join(t.TempDir(), "marks")
	p, err := pods.Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "once", Image: "local", Command: []string{"sh", "-c", "echo ran >> " + marks + "; exit 3"}}})
	if _, err := pods.UpdateEphemeralContainers(ctx, pod, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var before *corev1.ContainerStatus
	var mainID string
	awaitPod(t, n, pod, "the ephemeral container's end", func(p *corev1.Pod) bool {
		before, mainID = ephemeralState(p, "once"), p.Status.ContainerStatuses[0].ContainerID
		return before != nil && before.State.Terminated != nil
	})
	if before.State.Terminated.ExitCode != 3 {
		t.Fatalf("the ephemeral container's status: %+v, want terminated with 3", before)
	}

	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	if err := startNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	var after *corev1.ContainerStatus
	awaitPod(t, n, pod, "a status of the pod from after the restart", func(p *corev1.Pod) bool {
		after = ephemeralState(p, "once")
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].ContainerID != mainID &&
			p.Status.ContainerStatuses[0].State.Running != nil
	})
	if after == nil || after.State.Terminated == nil || *after.State.Terminated != *before.State.Terminated || after.ContainerID != before.ContainerID {
		t.Errorf("the ephemeral container after the restart: %+v, want it as it ended before: %+v", after, before)
	}
	if b, err := os.ReadFile(marks); err != nil || string(b) != "ran\n" {
		t.Errorf("the ephemeral container's marks: %q %v, want one run", b, err)
	}
}

// ephemeralState is the status of p's ephemeral container name, or nil.
func ephemeralState(p *corev1.Pod, name string) *corev1.ContainerStatus {
	i := slices.IndexFunc(p.Status.EphemeralContainerStatuses, func(s corev1.ContainerStatus) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	return &p.Status.EphemeralContainerStatuses[i]
}

// awaitPod polls the API server's pod name until ok holds, for a minute.
func awaitPod(t *testing.T, n *node, name, what string, ok func(*corev1.Pod) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := env.cp.Admin.CoreV1().Pods("default").Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ok(p) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never came: %+v\nnode log:\n%s", what, p.Status, n.logTail(4096))
		}
		time.Sleep(100 * time.Millisecond) // polling the API server's state
	}
}
