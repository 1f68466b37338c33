package apiserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGatewayApply: kubectl's workload writes through the gateway do what
// they do straight to the API server, for each kubectl era: apply -f
// (which reads the OpenAPI documents, v2 in protobuf for kubectl 1.27,
// v3 for the later ones, and validates on the server), applied again,
// applied server-side,
// create deployment (protobuf from kubectl 1.32 on), expose and
// delete -f; the objects are in the API server, then gone. A namespace and
// a ConfigMap are created, changed and deleted, and refused to a user
// without RBAC.
func TestGatewayApply(t *testing.T) {
	ctx := t.Context()
	n := env.nodes[0]
	gw := startImpersonatingGateway(t, "apply", nil)
	deployments, services := env.cp.Admin.AppsV1().Deployments("default"), env.cp.Admin.CoreV1().Services("default")
	for _, k := range env.kubectls {
		w := k.Wires()[0]
		for _, path := range []struct {
			name string
			c    *kc
		}{{"gw", gw.kc(k, w, n, t.TempDir(), gatewayModes[0])}, {"st", direct(k, w, n, t.TempDir())}} {
			t.Run(fmt.Sprintf("1.%d/%s", k.Minor, path.name), func(t *testing.T) {
				name := fmt.Sprintf("ap-%d-%s", k.Minor, path.name)
				made := name + "-made"
				file := filepath.Join(t.TempDir(), "app.yaml")
				err := os.WriteFile(file, []byte(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: main, image: local, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  selector: {app: %[1]s}
  ports: [{port: 80}]
`, name)), 0o600)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					for _, n := range []string{name, made} {
						deployments.Delete(ctx, n, metav1.DeleteOptions{})
						services.Delete(ctx, n, metav1.DeleteOptions{})
					}
				})
				for _, step := range []struct {
					args []string
					want string
				}{
					{[]string{"apply", "-f", file}, "deployment.apps/" + name + " created\nservice/" + name + " created\n"},
					{[]string{"apply", "-f", file}, "deployment.apps/" + name + " unchanged\nservice/" + name + " unchanged\n"},
					// Server-side: kubectl moves the objects over (a JSON
					// patch of their managedFields), then applies.
					{[]string{"apply", "--server-side", "-f", file}, "deployment.apps/" + name + " serverside-applied\nservice/" + name + " serverside-applied\n"},
					{[]string{"create", "deployment", made, "--image=local", "--", "sleep", "infinity"}, "deployment.apps/" + made + " created\n"},
					{[]string{"expose", "deployment", made, "--port=80"}, "service/" + made + " exposed\n"},
				} {
					if r := path.c.run(t, path.c.admin, nil, step.args...); r.code != 0 || string(r.stdout) != step.want {
						t.Fatalf("%v: exit %d, %q %q, want %q", step.args, r.code, r.stdout, tail(r.stderr), step.want)
					}
				}
				for _, n := range []string{name, made} {
					if _, err := deployments.Get(ctx, n, metav1.GetOptions{}); err != nil {
						t.Errorf("deployment %s in the API server: %v", n, err)
					}
					if _, err := services.Get(ctx, n, metav1.GetOptions{}); err != nil {
						t.Errorf("service %s in the API server: %v", n, err)
					}
				}
				deleted := " deleted\n"
				if k.Minor > 33 { // later kubectls name the namespace
					deleted = " deleted from default namespace\n"
				}
				for _, step := range []struct {
					args []string
					want string
				}{
					{[]string{"delete", "-f", file}, `deployment.apps "` + name + `"` + deleted + `service "` + name + `"` + deleted},
					{[]string{"delete", "deployment,service", made}, `deployment.apps "` + made + `"` + deleted + `service "` + made + `"` + deleted},
				} {
					if r := path.c.run(t, path.c.admin, nil, step.args...); r.code != 0 || string(r.stdout) != step.want {
						t.Errorf("%v: exit %d, %q %q, want %q", step.args, r.code, r.stdout, tail(r.stderr), step.want)
					}
				}
				for _, n := range []string{name, made} {
					if _, err := deployments.Get(ctx, n, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						t.Errorf("deployment %s after delete: %v", n, err)
					}
					if _, err := services.Get(ctx, n, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						t.Errorf("service %s after delete: %v", n, err)
					}
				}
				testNamespaceWrites(t, path.c, name+"-ns")
				testConfigMapWrites(t, path.c, name+"-cm", deleted)
			})
		}
	}
}

// testNamespaceWrites creates, labels and deletes namespace ns with
// kubectl c, and is refused the create as the limited user. The control
// plane runs no namespace controller: the deleted namespace stays
// Terminating, which is what the API server's delete makes it.
func testNamespaceWrites(t *testing.T, c *kc, ns string) {
	t.Helper()
	ctx := t.Context()
	namespaces := env.cp.Admin.CoreV1().Namespaces()
	t.Cleanup(func() { namespaces.Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	if r := c.run(t, c.limited, nil, "create", "namespace", ns); r.code != 1 ||
		!strings.Contains(string(r.stderr), `namespaces is forbidden: User "limited" cannot create resource "namespaces"`) {
		t.Errorf("create namespace as limited: exit %d %q %q", r.code, r.stdout, tail(r.stderr))
	}
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "namespace", ns}, "namespace/" + ns + " created\n"},
		{[]string{"label", "namespace", ns, "team=web"}, "namespace/" + ns + " labeled\n"},
		{[]string{"delete", "namespace", ns, "--wait=false"}, `namespace "` + ns + `" deleted` + "\n"},
	} {
		if r := c.run(t, c.admin, nil, step.args...); r.code != 0 || string(r.stdout) != step.want {
			t.Fatalf("%v: exit %d, %q %q, want %q", step.args, r.code, r.stdout, tail(r.stderr), step.want)
		}
	}
	got, err := namespaces.Get(ctx, ns, metav1.GetOptions{})
	if err != nil || got.Labels["team"] != "web" || got.DeletionTimestamp == nil || got.Status.Phase != "Terminating" {
		t.Errorf("namespace %s in the API server: %v %+v", ns, err, got)
	}
}

// testConfigMapWrites creates, reads, patches and deletes ConfigMap name
// in default with kubectl c, and is refused the create as the limited
// user; deleted ends kubectl's delete line.
func testConfigMapWrites(t *testing.T, c *kc, name, deleted string) {
	t.Helper()
	ctx := t.Context()
	configMaps := env.cp.Admin.CoreV1().ConfigMaps("default")
	t.Cleanup(func() { configMaps.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if r := c.run(t, c.limited, nil, "create", "configmap", name, "--from-literal=a=1"); r.code != 1 ||
		!strings.Contains(string(r.stderr), `configmaps is forbidden: User "limited" cannot create resource "configmaps"`) {
		t.Errorf("create configmap as limited: exit %d %q %q", r.code, r.stdout, tail(r.stderr))
	}
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "configmap", name, "--from-literal=a=1", "--from-literal=b=two"}, "configmap/" + name + " created\n"},
		{[]string{"patch", "configmap", name, "-p", `{"data":{"a":"one"}}`}, "configmap/" + name + " patched\n"},
		{[]string{"label", "configmap", name, "team=web"}, "configmap/" + name + " labeled\n"},
		{[]string{"get", "configmap", name, "-o", "jsonpath={.data.a} {.data.b} {.metadata.labels.team}"}, "one two web"},
	} {
		if r := c.run(t, c.admin, nil, step.args...); r.code != 0 || string(r.stdout) != step.want {
			t.Fatalf("%v: exit %d, %q %q, want %q", step.args, r.code, r.stdout, tail(r.stderr), step.want)
		}
	}
	if got, err := configMaps.Get(ctx, name, metav1.GetOptions{}); err != nil || got.Data["a"] != "one" || got.Labels["team"] != "web" {
		t.Errorf("configmap %s in the API server: %v %+v", name, err, got)
	}
	if r := c.run(t, c.admin, nil, "delete", "configmap", name); r.code != 0 || string(r.stdout) != `configmap "`+name+`"`+deleted {
		t.Errorf("delete configmap: exit %d, %q %q", r.code, r.stdout, tail(r.stderr))
	}
	if _, err := configMaps.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap %s after delete: %v", name, err)
	}
}
