package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestBoundPods: a pod created in the API server with spec.nodeName set to
// a porthole node runs there (kubectl exec reaches it), its status follows
// (a finished pod is Succeeded, and kubectl refuses to exec into it in its
// own words), and kubectl delete stops its processes and removes it.
func TestBoundPods(t *testing.T) {
	ctx := t.Context()
	n := env.nodes[0]
	ensureServiceAccount(t)
	marker := fmt.Sprint(900000 + time.Now().UnixNano()%99999)
	no := false
	mk := func(name string, policy corev1.RestartPolicy, cmd ...string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{NodeName: n.name, RestartPolicy: policy, AutomountServiceAccountToken: &no,
				Containers: []corev1.Container{{Name: "main", Image: "local", Command: cmd}}}}
	}
	pods := env.cp.Admin.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, mk("bound-sleep", corev1.RestartPolicyAlways, "sleep", marker), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, mk("bound-done", corev1.RestartPolicyNever, "true"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.cp.AwaitPodRunning(ctx, "default", "bound-sleep"); err != nil {
		t.Fatalf("%v\nnode log:\n%s", err, n.logTail(4096))
	}
	k := env.kubectls[len(env.kubectls)-1]
	c := direct(k, k.Wires()[0], n, t.TempDir())
	r := c.run(t, c.admin, nil, "exec", "bound-sleep", "--", "echo", "in-a-bound-pod")
	if r.code != 0 || string(r.stdout) != "in-a-bound-pod\n" {
		t.Errorf("exec: exit code %d, stdout %q, stderr %q", r.code, r.stdout, tail(r.stderr))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := pods.Get(ctx, "bound-done", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase == corev1.PodSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bound-done: phase %q, want Succeeded", p.Status.Phase)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r = c.run(t, c.admin, nil, "exec", "bound-done", "--", "true")
	want := "cannot exec into a container in a completed pod; current phase is Succeeded"
	if r.code != 1 || !bytes.Contains(r.stderr, []byte(want)) {
		t.Errorf("exec into a finished pod: exit code %d, stderr %q; want 1 and %q", r.code, tail(r.stderr), want)
	}
	for _, name := range []string{"bound-sleep", "bound-done"} {
		if r := c.run(t, c.admin, nil, "delete", "pod", name, "--wait=true", "--timeout=60s"); r.code != 0 {
			t.Errorf("kubectl delete pod %s: exit code %d, stderr %q", name, r.code, tail(r.stderr))
		}
	}
	if err := harness.AwaitNoProcs(ctx, "sleep\x00"+marker, 30*time.Second); err != nil {
		t.Errorf("the deleted pod's process: %v", err)
	}
}

// TestBoundPodEnv: a pod bound to a porthole node reads its environment
// from the API server's ConfigMaps and Secrets, as a kubelet does (envFrom,
// a key, the downward API), the Node authorizer letting the node read
// those its pods name; one whose ConfigMap is missing waits, the API
// server's status says CreateContainerConfigError and why, and it starts
// once the ConfigMap is created.
func TestBoundPodEnv(t *testing.T) {
	ctx := t.Context()
	n := env.nodes[0]
	ensureServiceAccount(t)
	no := false
	configMaps, pods := env.cp.Admin.CoreV1().ConfigMaps("default"), env.cp.Admin.CoreV1().Pods("default")
	if _, err := configMaps.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bound-cfg"},
		Data: map[string]string{"GREETING": "hello", "MODE": "prod"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secrets := env.cp.Admin.CoreV1().Secrets("default")
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bound-secret"},
		Data: map[string][]byte{"USER": []byte("bob"), "PASSWORD": []byte("s3cr3t")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		secrets.Delete(context.Background(), "bound-secret", metav1.DeleteOptions{})
		for _, name := range []string{"bound-cfg", "bound-late"} {
			configMaps.Delete(context.Background(), name, metav1.DeleteOptions{})
		}
		for _, name := range []string{"bound-env", "bound-wait"} {
			pods.Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
		}
	})
	ref := func(cm, key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Key: key}}
	}
	mk := func(name string, env ...corev1.EnvVar) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{NodeName: n.name, AutomountServiceAccountToken: &no,
				Containers: []corev1.Container{{Name: "main", Image: "local", Command: []string{"sleep", "infinity"},
					EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "bound-cfg"}}},
						{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "bound-secret"}}}},
					Env: env}}}}
	}
	if _, err := pods.Create(ctx, mk("bound-env",
		corev1.EnvVar{Name: "ME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "KEY", ValueFrom: ref("bound-cfg", "MODE")},
		corev1.EnvVar{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "bound-secret"}, Key: "PASSWORD"}}}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, mk("bound-wait", corev1.EnvVar{Name: "LATE", ValueFrom: ref("bound-late", "v")}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.cp.AwaitPodRunning(ctx, "default", "bound-env"); err != nil {
		t.Fatalf("%v\nnode log:\n%s", err, n.logTail(4096))
	}
	k := env.kubectls[len(env.kubectls)-1]
	c := direct(k, k.Wires()[0], n, t.TempDir())
	r := c.run(t, c.admin, nil, "exec", "bound-env", "--", "sh", "-c", "echo $GREETING $MODE $ME $KEY $DB_USER $DB_PASSWORD $PASS")
	if r.code != 0 || string(r.stdout) != "hello prod bound-env prod bob s3cr3t s3cr3t\n" {
		t.Errorf("exec: exit code %d, stdout %q, stderr %q", r.code, r.stdout, tail(r.stderr))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := pods.Get(ctx, "bound-wait", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cs := p.Status.ContainerStatuses; len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerConfigError" {
			if msg := cs[0].State.Waiting.Message; msg != `configmap "bound-late" not found` {
				t.Errorf("waiting message %q", msg)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bound-wait: status %+v, want CreateContainerConfigError", p.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := configMaps.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bound-late"},
		Data: map[string]string{"v": "arrived"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.cp.AwaitPodRunning(ctx, "default", "bound-wait"); err != nil {
		t.Fatalf("%v\nnode log:\n%s", err, n.logTail(4096))
	}
	r = c.run(t, c.admin, nil, "exec", "bound-wait", "--", "sh", "-c", "echo $LATE")
	if r.code != 0 || string(r.stdout) != "arrived\n" {
		t.Errorf("exec after the ConfigMap came: exit code %d, stdout %q, stderr %q", r.code, r.stdout, tail(r.stderr))
	}
}
