package apiserver

import (
	"bytes"
	"net"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestWorkloadTargets: exec and port-forward name a Service or a
// Deployment instead of a pod, and ports by name, as kubectl resolves
// them (the selector's most active pod; a service port mapped to its
// named targetPort). kubectl 1.37 and porthole's client both do it through
// the real API server, and both refuse a port the Service lacks in the
// same words.
func TestWorkloadTargets(t *testing.T) {
	ctx := t.Context()
	n := env.nodes[0]
	ensureServiceAccount(t)
	_, echoPort, _ := net.SplitHostPort(env.echo.Addr().String())
	port, _ := strconv.Atoi(echoPort)
	labels := map[string]string{"app": "targets"}
	no := false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "targets-pod", Labels: labels},
		Spec: corev1.PodSpec{NodeName: n.name, AutomountServiceAccountToken: &no, Containers: []corev1.Container{{
			Name: "main", Image: "local", Command: []string{"sleep", "infinity"},
			Ports: []corev1.ContainerPort{{Name: "echo", ContainerPort: int32(port)}}}}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "targets"}, Spec: corev1.ServiceSpec{Selector: labels,
		Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromString("echo")}}}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "targets"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "local"}}}}}}
	cs := env.cp.Admin
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AppsV1().Deployments("default").Delete(ctx, "targets", metav1.DeleteOptions{})
		_ = cs.CoreV1().Services("default").Delete(ctx, "targets", metav1.DeleteOptions{})
		zero := int64(0)
		_ = cs.CoreV1().Pods("default").Delete(ctx, "targets-pod", metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	if _, err := env.cp.AwaitPodRunning(ctx, "default", "targets-pod"); err != nil {
		t.Fatal(err)
	}
	k := env.kubectls[len(env.kubectls)-1]
	for _, porthole := range []bool{false, true} {
		c := direct(k, k.Wires()[0], n, t.TempDir())
		c.porthole = porthole
		t.Run(c.name(), func(t *testing.T) {
			for _, target := range []string{"deploy/targets", "svc/targets", "deployment.apps/targets"} {
				r := c.run(t, c.admin, nil, "exec", target, "-c", "main", "--", "echo", "in "+target)
				if r.code != 0 || string(r.stdout) != "in "+target+"\n" {
					t.Errorf("exec %s: exit code %d, stdout %q, stderr %q", target, r.code, r.stdout, tail(r.stderr))
				}
			}
			t.Run("service-port", func(t *testing.T) { c.forwardEcho(t, "svc/targets", ":8080") })
			t.Run("service-port-name", func(t *testing.T) { c.forwardEcho(t, "svc/targets", ":http") })
			t.Run("deployment-container-port-name", func(t *testing.T) { c.forwardEcho(t, "deploy/targets", ":echo") })
		})
	}
	// The same refusal from both.
	var stderrs [][]byte
	for _, porthole := range []bool{false, true} {
		c := direct(k, k.Wires()[0], n, t.TempDir())
		c.porthole = porthole
		r := c.run(t, c.admin, nil, "port-forward", "svc/targets", ":9999")
		if r.code != 1 {
			t.Errorf("%s port-forward to a port the Service lacks: exit code %d, stderr %q", c.name(), r.code, tail(r.stderr))
		}
		stderrs = append(stderrs, r.stderr)
	}
	if want := "Service targets does not have a service port 9999"; !bytes.Contains(stderrs[0], []byte(want)) || !bytes.Equal(stderrs[0], stderrs[1]) {
		t.Errorf("refusals differ or miss %q:\nkubectl  %q\nporthole %q", want, stderrs[0], stderrs[1])
	}
}

// ensureServiceAccount makes the default service account, which no
// controller manager makes here, and pods need.
func ensureServiceAccount(t *testing.T) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if _, err := env.cp.Admin.CoreV1().ServiceAccounts("default").Create(t.Context(), sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
