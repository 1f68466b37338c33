package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestSameServerSideApply: a run of server-side applies, by several
// managers, interleaved with other writes, goes the same way on porthole
// serve as on the real API server: each step's status code and message
// (conflicts and refusals word for word), and after each write the
// object's managedFields (who owns which fields, in FieldsV1) and the
// fields the applies merged or removed.
func TestSameServerSideApply(t *testing.T) {
	ctx := t.Context()
	ensureServiceAccount(t)
	srv, err := harness.StartServer(ctx, env.porthole, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	for _, cfg := range []*rest.Config{env.cp.Config, srv.Config} {
		t.Cleanup(func() {
			for _, p := range []string{"/apis/apps/v1/namespaces/default/deployments/ssa", "/api/v1/namespaces/default/configmaps/ssa",
				"/api/v1/namespaces/default/services/ssa", "/api/v1/namespaces/default/services/ssa2"} {
				send(t, cfg, "DELETE", p, "", "")
			}
		})
	}

	const (
		dep   = "/apis/apps/v1/namespaces/default/deployments/ssa"
		cm    = "/api/v1/namespaces/default/configmaps/ssa"
		svc   = "/api/v1/namespaces/default/services/ssa"
		apply = "application/apply-patch+yaml"
		merge = "application/merge-patch+json"
	)
	deployment := func(labels, replicas, env string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa, labels: {` + labels + `}}
spec:
  ` + replicas + `
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec:
      containers:
      - name: main
        image: busybox
        command: [sleep, "3600"]
        env: [` + env + `]
`
	}
	steps := []struct {
		name, method, path, query, ctype, body string
		look                                   []string // fields of the object to compare, JSON paths
	}{
		{"apply without a fieldManager", "PATCH", dep, "", apply, deployment("team: a", "replicas: 2", ""), nil},
		{"force on a merge patch", "PATCH", dep, "?fieldManager=x&force=true", merge, `{}`, nil},
		{"apply of another version", "PATCH", dep, "?fieldManager=alice", apply, strings.Replace(deployment("", "", ""), "apps/v1", "apps/v2", 1), nil},
		{"apply with managedFields", "PATCH", dep, "?fieldManager=alice", apply,
			strings.Replace(deployment("", "", ""), "metadata: {", "metadata: {managedFields: [{manager: x}], ", 1), nil},
		{"apply that creates", "PATCH", dep, "?fieldManager=alice", apply,
			deployment("team: a, tier: web", "replicas: 2", `{name: A, value: "1"}, {name: B, value: "2"}`),
			[]string{"metadata.labels", "spec.replicas", "spec.template.spec.containers"}},
		{"the same apply again", "PATCH", dep, "?fieldManager=alice", apply,
			deployment("team: a, tier: web", "replicas: 2", `{name: A, value: "1"}, {name: B, value: "2"}`), []string{"spec.replicas"}},
		{"a merge patch made against another version", "PATCH", dep, "?fieldManager=x", merge,
			`{"metadata":{"resourceVersion":"1","labels":{"q":"r"}}}`, nil},
		{"a JSON patch made against another version", "PATCH", dep, "?fieldManager=x", "application/json-patch+json",
			`[{"op":"replace","path":"/metadata/resourceVersion","value":"1"}]`, nil},
		{"an apply made against another version", "PATCH", dep, "?fieldManager=alice", apply,
			strings.Replace(deployment("team: a, tier: web", "replicas: 2", `{name: A, value: "1"}, {name: B, value: "2"}`),
				"metadata: {", "metadata: {resourceVersion: '1', ", 1), nil},
		{"scale by another manager", "PATCH", dep + "/scale", "?fieldManager=bob", merge, `{"spec":{"replicas":3}}`, nil},
		{"apply of a field another set", "PATCH", dep, "?fieldManager=alice", apply,
			deployment("team: a, tier: web", "replicas: 2", `{name: A, value: "1"}, {name: B, value: "2"}`), nil},
		{"apply of its value: shared", "PATCH", dep, "?fieldManager=alice", apply,
			deployment("team: a, tier: web", "replicas: 3", `{name: A, value: "1"}, {name: B, value: "2"}`), []string{"spec.replicas"}},
		{"apply that drops fields", "PATCH", dep, "?fieldManager=alice", apply,
			deployment("team: a", "", `{name: A, value: "1"}`), []string{"metadata.labels", "spec.replicas", "spec.template.spec.containers"}},
		{"a label patched by another", "PATCH", dep, "?fieldManager=carol", merge, `{"metadata":{"labels":{"team":"c","owner":"carol"}}}`,
			[]string{"metadata.labels"}},
		{"two conflicts", "PATCH", dep, "?fieldManager=dave", apply,
			deployment("team: d, owner: dave", "replicas: 5", ""), nil},
		{"forced", "PATCH", dep, "?fieldManager=dave&force=true", apply,
			deployment("team: d, owner: dave", "replicas: 5", ""), []string{"metadata.labels", "spec.replicas"}},
		{"a container added by another manager", "PATCH", dep, "?fieldManager=erin", "application/strategic-merge-patch+json",
			`{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox","command":["sleep","1"],"env":[{"name":"S","value":"1"}]}]}}}}`,
			[]string{"spec.template.spec.containers"}},
		{"a strategic patch: its new elements first", "PATCH", dep, "?fieldManager=frank", "application/strategic-merge-patch+json",
			`{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"name":"C","value":"3"},{"name":"A","value":"1"}]}]}}}}`,
			[]string{"spec.template.spec.containers"}},
		{"a strategic patch's element order", "PATCH", dep, "?fieldManager=frank", "application/strategic-merge-patch+json",
			`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"main"},{"name":"side"}]}}}}`,
			[]string{"spec.template.spec.containers"}},
		{"an apply without a kind", "PATCH", dep, "?fieldManager=alice", apply, strings.Replace(deployment("", "", ""), "kind: Deployment", "", 1), nil},
		{"an apply in another namespace", "PATCH", dep, "?fieldManager=alice", apply,
			strings.Replace(deployment("", "", ""), "name: ssa", "name: ssa, namespace: kube-system", 1), nil},
		{"an apply of another name", "PATCH", dep, "?fieldManager=alice", apply, strings.Replace(deployment("", "", ""), "name: ssa", "name: other", 1), nil},
		{"a service created", "POST", "/api/v1/namespaces/default/services", "?fieldManager=carol", "application/json",
			`{"apiVersion":"v1","kind":"Service","metadata":{"name":"ssa2","labels":{"a":"b"}},"spec":{"selector":{"app":"x"},"ports":[{"port":80,"name":"a"}]}}`,
			[]string{"spec.ipFamilies", "spec.ipFamilyPolicy", "spec.internalTrafficPolicy", "spec.sessionAffinity", "spec.type"}},
		{"a config map applied", "PATCH", cm, "?fieldManager=alice", apply,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '1', b: '2'}\n", []string{"data"}},
		{"a config map key replaced", "PUT", cm, "?fieldManager=bob", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},"data":{"a":"1","b":"3","c":"4"}}`, []string{"data"}},
		{"a config map applied without its keys", "PATCH", cm, "?fieldManager=alice", apply,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {}\n", []string{"data"}},
		{"a service applied, its port's protocol left out", "PATCH", svc, "?fieldManager=alice", apply,
			"apiVersion: v1\nkind: Service\nmetadata: {name: ssa}\nspec:\n  selector: {app: ssa}\n  ports: [{port: 80, name: a, targetPort: 8080}]\n",
			[]string{"spec.ports", "spec.selector"}},
		{"a service's port applied by another", "PATCH", svc, "?fieldManager=bob", apply,
			"apiVersion: v1\nkind: Service\nmetadata: {name: ssa}\nspec:\n  ports: [{port: 80, protocol: TCP, targetPort: 9090}, {port: 81, name: b}]\n",
			nil},
		{"a port without its key", "PATCH", svc, "?fieldManager=bob", apply,
			"apiVersion: v1\nkind: Service\nmetadata: {name: ssa}\nspec:\n  ports: [{name: x, targetPort: 1}]\n", nil},
		{"a service of json, dry run", "PATCH", svc, "?fieldManager=bob&dryRun=All&force=1", apply,
			`{"apiVersion":"v1","kind":"Service","metadata":{"name":"ssa"},"spec":{"ports":[{"port":82,"name":"c"}]}}`, []string{"spec.ports"}},
		{"a service's ports patched: one deleted, one new", "PATCH", svc, "?fieldManager=bob", "application/strategic-merge-patch+json",
			`{"spec":{"ports":[{"port":83,"name":"d"},{"$patch":"delete","port":80}]}}`, []string{"spec.ports"}},
	}
	for _, s := range steps {
		want := sumUp(t, env.cp.Config, s.method, s.path+s.query, s.ctype, s.body, s.look)
		got := sumUp(t, srv.Config, s.method, s.path+s.query, s.ctype, s.body, s.look)
		t.Logf("%s: %s", s.name, want)
		if got != want {
			t.Errorf("%s: porthole answers\n%s\nthe API server\n%s", s.name, got, want)
		}
	}
}

// updateTime is the time in a conflict's message.
var updateTime = regexp.MustCompile(` at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// sumUp sends one request and sums up its answer: the status code, a
// Status's reason and message, and an object's managedFields (without
// their times) and the fields named by look.
func sumUp(t *testing.T, cfg *rest.Config, method, path, ctype, body string, look []string) string {
	t.Helper()
	code, raw := send(t, cfg, method, path, ctype, body)
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Sprintf("%d %q", code, raw)
	}
	if obj["kind"] == "Status" {
		return fmt.Sprintf("%d %v: %s", code, obj["reason"], updateTime.ReplaceAllString(fmt.Sprint(obj["message"]), " at TIME"))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %v\n", code, obj["kind"])
	meta, _ := obj["metadata"].(map[string]any)
	raw, _ = json.Marshal(meta["managedFields"])
	var entries []metav1.ManagedFieldsEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		lines = append(lines, fmt.Sprintf("  %s %s %s %s: %s", e.Manager, e.Operation, e.APIVersion, e.Subresource, e.FieldsV1.Raw))
	}
	slices.Sort(lines)
	b.WriteString(strings.Join(lines, "\n") + "\n")
	for _, p := range look {
		var v any = obj
		for _, f := range strings.Split(p, ".") {
			m, _ := v.(map[string]any)
			v = m[f]
		}
		j, _ := json.Marshal(v)
		fmt.Fprintf(&b, "  %s = %s\n", p, j)
	}
	return b.String()
}

// send makes one request with cfg's credentials.
func send(t *testing.T, cfg *rest.Config, method, path, ctype, body string) (int, []byte) {
	t.Helper()
	code, raw, _ := roundTrip(t, cfg, method, path, ctype, body, nil)
	return code, raw
}

// roundTrip makes one request with cfg's credentials and header, and
// returns the answer's code, body and header.
func roundTrip(t *testing.T, cfg *rest.Config, method, path, ctype, body string, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Not t's context alone: the cleanups send too, once it is done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(cfg.Host, "/")+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw, resp.Header
}

// TestSameKubectlServerSideApply: each kubectl's server-side apply goes
// the same way on porthole serve as on the real API server: moving an
// object from client-side apply (kubectl rewrites its managedFields),
// a conflict with kubectl scale, forcing it, dropping a field. The exit
// codes, output and managedFields after each step are the same.
func TestSameKubectlServerSideApply(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	servers := []struct {
		kubeconfig string
		cfg        *rest.Config
	}{{env.adminKubeconfig, env.cp.Config}, {srv.Kubeconfig, srv.Config}}
	for _, k := range env.kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			name := fmt.Sprintf("ssa-%d", k.Minor)
			manifest := func(labels string, replicas int) string {
				f := filepath.Join(t.TempDir(), "app.yaml")
				err := os.WriteFile(f, []byte(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, labels: {%[2]s}}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: main, image: busybox, command: [sleep, "3600"]}]
`, name, labels, replicas)), 0o600)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
			first, second := manifest("team: a, tier: web", 1), manifest("team: a", 2)
			steps := [][]string{
				{"apply", "-f", first},
				{"apply", "--server-side", "-f", first},
				{"scale", "deployment", name, "--replicas=3"},
				{"apply", "--server-side", "-f", first},
				{"apply", "--server-side", "--force-conflicts", "-f", second},
				{"apply", "--server-side", "-f", second},
			}
			answers := make([][]string, len(servers))
			for i, s := range servers {
				c := direct(k, k.Wires()[0], nil, t.TempDir())
				// Deleted before t's context ends, which the run needs.
				defer c.run(t, s.kubeconfig, nil, "delete", "deployment", name, "--ignore-not-found")
				for _, args := range steps {
					r := c.run(t, s.kubeconfig, nil, args...)
					answers[i] = append(answers[i], fmt.Sprintf("%s: exit %d, %q %q\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr,
						sumUp(t, s.cfg, "GET", "/apis/apps/v1/namespaces/default/deployments/"+name, "", "", []string{"metadata.labels", "spec.replicas"})))
				}
			}
			for i := range steps {
				if answers[1][i] != answers[0][i] {
					t.Errorf("porthole:\n%s\nthe API server:\n%s", answers[1][i], answers[0][i])
				}
			}
			t.Log(strings.Join(answers[0], "\n"))
		})
	}
}
