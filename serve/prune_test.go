package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKubectlApplyPrune: kubectl apply --prune with its default kinds,
// which it maps before listing each: serve's discovery has them all (the
// kinds it never holds listed empty), so a labelled set applied without
// one of its objects prunes that object, and kubectl get all and get of
// a kind serve never holds answer as a cluster with none would.
func TestKubectlApplyPrune(t *testing.T) {
	eachKubectl(t, "prune-", func(t *testing.T, k kubectl, ns string) {
		k.expect(t, "namespace/"+ns+" created\n", "create", "namespace", ns)
		dir := t.TempDir()
		objects := []string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {set: a}}\ndata: {a: '1'}\n",
			"apiVersion: v1\nkind: Secret\nmetadata: {name: sec, labels: {set: a}}\nstringData: {p: x}\n",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {set: a}}\nspec:\n  selector: {matchLabels: {app: web}}\n" +
				"  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, command: [sleep, infinity]}]}\n",
		}
		write := func(name string, docs ...string) string {
			f := filepath.Join(dir, name)
			if err := os.WriteFile(f, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
				t.Fatal(err)
			}
			return f
		}
		all, some := write("all.yaml", objects...), write("some.yaml", objects[0])
		k.expect(t, "configmap/cfg created\nsecret/sec created\ndeployment.apps/web created\n", "-n", ns, "apply", "--prune", "-l", "set=a", "-f", all)
		k.expect(t, "configmap/cfg unchanged\nsecret/sec pruned\ndeployment.apps/web pruned\n", "-n", ns, "apply", "--prune", "-l", "set=a", "-f", some)
		if out, errOut, code := k.run(t, "-n", ns, "get", "secrets,deployments"); code != 0 || out != "" || errOut != "No resources found in "+ns+" namespace.\n" {
			t.Errorf("get what was pruned: exit %d %q %q", code, out, errOut)
		}
		waitFor(t, "the pruned Deployment's pods gone", func() bool {
			out, _, code := k.run(t, "-n", ns, "get", "pods", "-o", "name")
			return code == 0 && out == ""
		})
		for _, kinds := range []string{"jobs,cronjobs,ingresses,persistentvolumeclaims,statefulsets,daemonsets,replicationcontrollers", "all"} {
			if out, errOut, code := k.run(t, "-n", ns, "get", kinds); code != 0 || out != "" || errOut != "No resources found in "+ns+" namespace.\n" {
				t.Errorf("get %s: exit %d %q %q", kinds, code, out, errOut)
			}
		}
		if out, errOut, code := k.run(t, "get", "pv"); code != 0 || out != "" || errOut != "No resources found\n" {
			t.Errorf("get pv: exit %d %q %q", code, out, errOut)
		}
		k.expectError(t, `jobs.batch "x" not found`, "-n", ns, "get", "job", "x")
	})
}
