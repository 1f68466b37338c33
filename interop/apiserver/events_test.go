package apiserver

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGatewayEvents: kubectl lists a pod's events (as describe does) through
// the gateway as from the API server: the gateway forwards event reads,
// core and events.k8s.io, authorized.
func TestGatewayEvents(t *testing.T) {
	n := env.nodes[0]
	pod := n.pod("exec")
	msg := "porthole interop: the event of " + pod
	p, err := env.cp.Admin.CoreV1().Pods("default").Get(t.Context(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: pod + "-", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod, UID: p.UID, APIVersion: "v1"},
		Reason:         "Interop", Message: msg, Type: corev1.EventTypeNormal, Count: 1,
		Source: corev1.EventSource{Component: "interop"}, FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(),
	}
	created, err := env.cp.Admin.CoreV1().Events("default").Create(t.Context(), ev, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.cp.Admin.CoreV1().Events("default").Delete(t.Context(), created.Name, metav1.DeleteOptions{})
	})
	gw := startImpersonatingGateway(t, "events", nil)
	k := env.kubectls[len(env.kubectls)-1]
	w := k.Wires()[0]
	through := gw.kc(k, w, n, t.TempDir(), gatewayModes[0])
	straight := direct(k, w, n, t.TempDir())
	for _, args := range [][]string{
		{"get", "events", "--field-selector", "involvedObject.name=" + pod, "-o", "jsonpath={.items[*].message}"},
		{"get", "events.v1.events.k8s.io", "--field-selector", "regarding.name=" + pod, "-o", "jsonpath={.items[*].note}"},
	} {
		want := straight.run(t, straight.admin, nil, args...)
		got := through.run(t, through.admin, nil, args...)
		if got.code != 0 || string(got.stdout) != msg || !bytes.Equal(got.stdout, want.stdout) {
			t.Errorf("%s through the gateway: exit %d, %q %q; straight %q", strings.Join(args, " "), got.code, got.stdout, got.stderr, want.stdout)
		}
	}
}
