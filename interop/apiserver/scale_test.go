package apiserver

import (
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGatewayScale: kubectl scale through the gateway sets a Deployment's
// replicas in the API server, through its scale subresource, as kubectl
// straight to the API server does; its --current-replicas precondition
// reads the same scale.
func TestGatewayScale(t *testing.T) {
	ctx := t.Context()
	one := int32(1)
	labels := map[string]string{"app": "gateway-scale"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "gateway-scale"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "local"}}}}}}
	if _, err := env.cp.Admin.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.cp.Admin.AppsV1().Deployments("default").Delete(t.Context(), d.Name, metav1.DeleteOptions{})
	})
	n := env.nodes[0]
	gw := startImpersonatingGateway(t, "scale", nil)
	k := env.kubectls[len(env.kubectls)-1]
	w := k.Wires()[0]
	through := gw.kc(k, w, n, t.TempDir(), gatewayModes[0])
	straight := direct(k, w, n, t.TempDir())
	for _, step := range []struct {
		c        *kc
		from, to string
	}{{through, "1", "3"}, {straight, "3", "2"}, {through, "2", "4"}} {
		got := step.c.run(t, step.c.admin, nil, "scale", "deployment/"+d.Name, "--current-replicas="+step.from, "--replicas="+step.to)
		if got.code != 0 || string(got.stdout) != "deployment.apps/gateway-scale scaled\n" {
			t.Fatalf("scale %s to %s (%s): exit %d %q %q", step.from, step.to, step.c.name(), got.code, got.stdout, got.stderr)
		}
		cur, err := env.cp.Admin.AppsV1().Deployments("default").Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r := strconv.Itoa(int(*cur.Spec.Replicas)); r != step.to {
			t.Errorf("after scale to %s: the API server has %s replicas", step.to, r)
		}
	}
	got := through.run(t, through.admin, nil, "scale", "deployment/"+d.Name, "--current-replicas=9", "--replicas=1")
	if got.code != 1 || string(got.stderr) != "error: Expected replicas to be 9, was 4\n" {
		t.Errorf("scale with a wrong precondition through the gateway: exit %d %q", got.code, got.stderr)
	}
}
