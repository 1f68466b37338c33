package apiserver

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGatewayRun: kubectl run through the gateway creates the pod in the
// API server as it does straight (bound to a porthole node by
// --overrides, which runs it), and kubectl logs reads its output, which
// the API server relays from the node's containerLogs path; a user who
// may not create pods is refused through the gateway as straight.
func TestGatewayRun(t *testing.T) {
	ctx := t.Context()
	n := env.nodes[0]
	ensureServiceAccount(t)
	gw := startImpersonatingGateway(t, "run", nil)
	k := env.kubectls[len(env.kubectls)-1]
	w := k.Wires()[0]
	through := gw.kc(k, w, n, t.TempDir(), gatewayModes[0])
	straight := direct(k, w, n, t.TempDir())
	overrides := fmt.Sprintf(`{"spec":{"nodeName":%q,"automountServiceAccountToken":false}}`, n.name)
	pods := env.cp.Admin.CoreV1().Pods("default")
	for _, tc := range []struct {
		name string
		c    *kc
	}{{"gw-run", through}, {"straight-run", straight}} {
		r := tc.c.run(t, tc.c.admin, nil, "run", tc.name, "--image=local", "--restart=Never", "--overrides", overrides, "--", "sh", "-c", "echo ran "+tc.name)
		if r.code != 0 || string(r.stdout) != "pod/"+tc.name+" created\n" {
			t.Errorf("run %s: exit %d, %q %q", tc.name, r.code, r.stdout, tail(r.stderr))
			continue
		}
		t.Cleanup(func() { pods.Delete(ctx, tc.name, metav1.DeleteOptions{}) })
		deadline := time.Now().Add(time.Minute)
		for {
			p, err := pods.Get(ctx, tc.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Status.Phase == corev1.PodSucceeded {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: phase %q, want Succeeded\nnode log:\n%s", tc.name, p.Status.Phase, n.logTail(4096))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r := tc.c.run(t, tc.c.admin, nil, "logs", tc.name); r.code != 0 || string(r.stdout) != "ran "+tc.name+"\n" {
			t.Errorf("logs %s: exit %d, %q %q", tc.name, r.code, r.stdout, tail(r.stderr))
		}
	}
	want := straight.run(t, straight.limited, nil, "run", "limited-run", "--image=local", "--", "true")
	got := through.run(t, through.limited, nil, "run", "limited-run", "--image=local", "--", "true")
	if want.code == 0 || got.code != want.code || !bytes.Contains(got.stderr, []byte(`cannot create resource "pods"`)) {
		t.Errorf("the limited user's run through the gateway: exit %d %q; straight: exit %d %q", got.code, got.stderr, want.code, want.stderr)
	}
}
