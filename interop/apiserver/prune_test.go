package apiserver

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// klogPrefix is the time and process of a kubectl warning line.
var klogPrefix = regexp.MustCompile(`(?m)^([IWE])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ `)

// TestSameKubectlPrune: each kubectl's apply --prune, with its default
// kinds (which it maps before it lists them), goes the same way on
// porthole serve as on the real API server: a labelled set applied
// without two of its objects prunes those, and the kinds serve never
// holds read as none. Exit codes and output are the same, the time and
// process of kubectl's warnings aside.
func TestSameKubectlPrune(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	servers := []string{env.adminKubeconfig, srv.Kubeconfig}
	for _, k := range env.kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			ns := sameNamespace(t, srv, fmt.Sprintf("prune-%d-", k.Minor))
			dir := t.TempDir()
			objects := []string{
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {set: a}}\ndata: {a: '1'}\n",
				"apiVersion: v1\nkind: Secret\nmetadata: {name: sec, labels: {set: a}}\nstringData: {p: x}\n",
				"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {set: a}}\nspec:\n  selector: {matchLabels: {app: web}}\n" +
					"  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: busybox, command: [sleep, infinity]}]}\n",
			}
			write := func(name string, docs ...string) string {
				f := filepath.Join(dir, name)
				if err := os.WriteFile(f, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
					t.Fatal(err)
				}
				return f
			}
			all, some := write("all.yaml", objects...), write("some.yaml", objects[0])
			steps := [][]string{
				{"apply", "--prune", "-l", "set=a", "-f", all},
				{"apply", "--prune", "-l", "set=a", "-f", all},
				{"apply", "--prune", "-l", "set=a", "-f", some},
				{"get", "secrets,deployments", "-l", "set=a"},
				{"get", "jobs,cronjobs,ingresses,persistentvolumeclaims,statefulsets,daemonsets,replicationcontrollers"},
				{"get", "job", "x"},
				{"get", "pv", "-l", "set=a"},
			}
			answers := make([][]string, len(servers))
			for i, kubeconfig := range servers {
				c := direct(k, k.Wires()[0], nil, t.TempDir())
				for _, args := range steps {
					r := c.run(t, kubeconfig, nil, append([]string{"-n", ns}, args...)...)
					errOut := klogPrefix.ReplaceAllString(strings.ReplaceAll(string(r.stderr), dir, "DIR"), "$1 ")
					answers[i] = append(answers[i], fmt.Sprintf("%s: exit %d, %q %q", strings.Join(args, " "), r.code, r.stdout, errOut))
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
