package apiserver

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// TestSameFieldValidation: a body naming fields its kind does not have
// (or naming one twice) goes the same way on porthole serve as on the
// real API server, for each fieldValidation (Strict, Warn, Ignore, none)
// and each way of writing (create, replace, each patch, apply): the
// status code, the message, and the Warning headers, word for word. (An
// apply names one unknown field of an object, which the API server picks
// at random among several: each apply here has one.)
func TestSameFieldValidation(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	const (
		cms   = "/api/v1/namespaces/default/configmaps"
		cm    = cms + "/fv"
		deps  = "/apis/apps/v1/namespaces/default/deployments"
		dep   = deps + "/fv"
		svcs  = "/api/v1/namespaces/default/services"
		svc   = svcs + "/fv"
		pods  = "/api/v1/namespaces/default/pods"
		nss   = "/api/v1/namespaces"
		apply = "application/apply-patch+yaml"
		js    = "application/json"
	)
	for _, cfg := range []*rest.Config{env.cp.Config, srv.Config} {
		t.Cleanup(func() {
			for _, p := range []string{cm, cms + "/fv2", cms + "/fv3", dep, svc, pods + "/fv", nss + "/fv"} {
				send(t, cfg, "DELETE", p, "", "")
			}
		})
	}
	badCM := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","bogus":1,"Labels":{"a":"b"}},"data":{"a":"1"},"foo":"bar","Data":{}}`
	deployment := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fv"},"spec":{"replicas":1,
"selector":{"matchLabels":{"app":"fv"}},"strategy":{"rollingUpdate":{"maxSurge":"50%","bogus":1}},
"template":{"metadata":{"labels":{"app":"fv"},"bogus":{"x":1}},"spec":{"tolerations":[{"key":"k","operator":"Exists"}],
"volumes":[{"name":"v","emptyDir":{"sizeLimit":"1Mi","bogus":true}}],
"containers":[{"name":"main","image":"busybox","command":["sleep","3600"],"bogus":[1],
"resources":{"limits":{"cpu":"1"},"bogus":{}},
"env":[{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"metadata.name","bogus":"x"}}},{"name":"B","value":"b","bogus2":"y"}],
"ports":[{"containerPort":80,"bogus":80}]}]}}},"status":{"bogus":1}}`
	steps := []struct {
		name, method, path, query, ctype, body string
	}{
		{"create, strict", "POST", cms, "?fieldValidation=Strict", js, badCM},
		{"create, an unsupported directive", "POST", cms, "?fieldValidation=Loose", js, badCM},
		{"create, ignore", "POST", cms, "?fieldValidation=Ignore", js, badCM},
		{"delete", "DELETE", cm, "", "", ""},
		{"create, warn", "POST", cms, "?fieldValidation=Warn", js, badCM},
		{"delete", "DELETE", cm, "", "", ""},
		{"create, no directive: warn", "POST", cms, "", js, badCM},
		{"replace, strict", "PUT", cm, "?fieldValidation=Strict", js, badCM},
		{"replace, warn", "PUT", cm, "?fieldValidation=Warn", js, badCM},
		{"replace with duplicates, strict", "PUT", cm, "?fieldValidation=Strict", js,
			`{"apiVersion":"v1","kind":"ConfigMap","kind":"ConfigMap","metadata":{"name":"fv","labels":{"a":"1","a":"2"}},"data":{"a":"1","b":"2","a":"3"}}`},
		{"replace with duplicates, warn", "PUT", cm, "?fieldValidation=Warn", js,
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","name":"fv"},"data":{"a":"1","a":"3"}}`},
		{"merge patch, strict", "PATCH", cm, "?fieldValidation=Strict", "application/merge-patch+json", `{"data":{"c":"3"},"zzz":1,"metadata":{"bogus":2}}`},
		{"merge patch with duplicates, strict", "PATCH", cm, "?fieldValidation=Strict", "application/merge-patch+json", `{"data":{"c":"3","c":"4"}}`},
		{"merge patch, warn", "PATCH", cm, "?fieldValidation=Warn", "application/merge-patch+json", `{"data":{"c":"3"},"zzz":1,"zzz":2}`},
		{"merge patch, ignore", "PATCH", cm, "?fieldValidation=Ignore", "application/merge-patch+json", `{"data":{"d":"3"},"zzz":1}`},
		{"strategic patch, strict", "PATCH", cm, "?fieldValidation=Strict", "application/strategic-merge-patch+json", `{"zzz":1,"data":{"e":"5"},"metadata":{"bogus":2,"labels":{"x":"y"}}}`},
		{"strategic patch with duplicates, strict", "PATCH", cm, "?fieldValidation=Strict", "application/strategic-merge-patch+json", `{"data":{"e":"5","e":"6"},"zzz":1}`},
		{"strategic patch, warn", "PATCH", cm, "", "application/strategic-merge-patch+json", `{"zzz":1,"data":{"e":"5"},"aaa":{"b":1}}`},
		{"JSON patch, strict", "PATCH", cm, "?fieldValidation=Strict", "application/json-patch+json", `[{"op":"add","path":"/zzz","value":1}]`},
		{"JSON patch with an unknown member, strict", "PATCH", cm, "?fieldValidation=Strict", "application/json-patch+json", `[{"op":"add","path":"/data/f","value":"1","valu":2}]`},
		{"JSON patch, warn", "PATCH", cm, "?fieldValidation=Warn", "application/json-patch+json", `[{"op":"add","path":"/zzz","value":1,"op":"add"}]`},
		{"apply, strict", "PATCH", cm, "?fieldManager=a&force=true&fieldValidation=Strict", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: '1'}\nzzz: 1\n"},
		{"apply, no directive", "PATCH", cm, "?fieldManager=a&force=true", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: '1'}\nzzz: 1\n"},
		{"apply, ignore", "PATCH", cm, "?fieldManager=a&force=true&fieldValidation=Ignore", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: '1'}\nzzz: 1\n"},
		{"apply with a duplicate, strict", "PATCH", cm, "?fieldManager=a&force=true&fieldValidation=Strict", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: '1'}\ndata: {b: '2'}\n"},
		{"apply with a duplicate, warn", "PATCH", cm, "?fieldManager=a&force=true&fieldValidation=Warn", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata:\n  a: '1'\n  a: '2'\n"},
		{"apply with a duplicate, ignore", "PATCH", cm, "?fieldManager=a&force=true&fieldValidation=Ignore", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: '1'}\ndata: {b: '2'}\n"},
		{"apply of JSON with a duplicate, strict", "PATCH", cm, "?fieldManager=a&force=true&fieldValidation=Strict", apply, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv"},"data":{"a":"1","a":"2"}}`},
		{"apply of an unknown metadata field", "PATCH", cm, "?fieldManager=a&force=true", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv, bogus: 1}\ndata: {a: '1'}\n"},
		{"apply that creates, with a duplicate, warn", "PATCH", cms + "/fv2", "?fieldManager=a&fieldValidation=Warn", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv2, namespace: default}\ndata:\n  a: '1'\n  b: '2'\n  a: '3'\nbinaryData: {}\nbinaryData: {}\n"},
		{"apply that would create, with a duplicate, strict", "PATCH", cms + "/fv3", "?fieldManager=a&fieldValidation=Strict", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv3}\ndata: {a: '1', a: '2'}\n"},
		{"apply that would create, with an unknown field", "PATCH", cms + "/fv3", "?fieldManager=a", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv3, namespace: default}\nbogus: {a: '1'}\n"},
		{"read what the applies kept", "GET", cms + "/fv2", "", "", ""},
		{"deployment, strict", "POST", deps, "?fieldValidation=Strict", js, deployment},
		{"deployment, warn", "POST", deps, "?fieldValidation=Warn", js, deployment},
		{"deployment's container, strategic, strict", "PATCH", dep, "?fieldValidation=Strict", "application/strategic-merge-patch+json",
			`{"spec":{"template":{"spec":{"containers":[{"name":"main","bogus":1,"env":[{"name":"C","value":"c","zz":1}]}]}}}}`},
		{"deployment, apply, strict", "PATCH", dep, "?fieldManager=a&force=true&fieldValidation=Strict", apply,
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: fv}\nspec:\n  template:\n    spec:\n      containers: [{name: main, image: busybox, bogus: 1}]\n"},
		{"service, strict", "POST", svcs, "?fieldValidation=Strict", js,
			`{"apiVersion":"v1","kind":"Service","metadata":{"name":"fv"},"spec":{"ports":[{"port":80,"bogus":1},{"port":81,"targetPort":"x","bogus":1}],"selector":{"a":"b"},"bogus":[]}}`},
		{"pod, strict", "POST", pods, "?fieldValidation=Strict", js,
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"fv"},"spec":{"containers":[{"name":"c","image":"busybox","securityContext":{"runAsUser":1,"bogus":1},"livenessProbe":{"exec":{"command":["true"],"bogus":1}}}],"bogus":null}}`},
		{"namespace, strict", "POST", nss, "?fieldValidation=Strict", js, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fv"},"spec":{"finalizers":[],"bogus":1}}`},
	}
	for _, s := range steps {
		want := sumUpWarned(t, env.cp.Config, s.method, s.path+s.query, s.ctype, s.body)
		got := sumUpWarned(t, srv.Config, s.method, s.path+s.query, s.ctype, s.body)
		t.Logf("%s: %s", s.name, want)
		if got != want {
			t.Errorf("%s: porthole answers\n%s\nthe API server\n%s", s.name, got, want)
		}
	}
}

// patchedValue is the value in a patch's strict decoding error: the
// patched object, which holds times, uids and versions of its own.
var patchedValue = regexp.MustCompile(`patch: Invalid value: "(?:[^"\\]|\\.)*"`)

// sumUpWarned is sumUp's status line (or the kind written) and the
// answer's Warning headers.
func sumUpWarned(t *testing.T, cfg *rest.Config, method, path, ctype, body string) string {
	t.Helper()
	code, raw, warnings := sendWarned(t, cfg, method, path, ctype, body)
	var obj map[string]any
	line := fmt.Sprintf("%d %q", code, raw)
	if err := json.Unmarshal(raw, &obj); err == nil {
		line = fmt.Sprintf("%d %v", code, obj["kind"])
		if data, ok := obj["data"]; ok { // what was kept of a config map
			j, _ := json.Marshal(data)
			line += fmt.Sprintf(" data=%s", j)
		}
		if obj["kind"] == "Status" {
			line = fmt.Sprintf("%d %v: %s", code, obj["reason"], patchedValue.ReplaceAllString(fmt.Sprint(obj["message"]), `patch: Invalid value: "…"`))
		}
	}
	return fmt.Sprintf("%s\n  warnings: %q", line, warnings)
}

// sendWarned is send, with the answer's Warning headers.
func sendWarned(t *testing.T, cfg *rest.Config, method, path, ctype, body string) (int, []byte, []string) {
	t.Helper()
	code, raw, h := roundTrip(t, cfg, method, path, ctype, body, nil)
	return code, raw, h.Values("Warning")
}

// TestSameKubectlFieldValidation: each kubectl's --validate (strict, its
// default; warn; false) over create, apply, replace and server-side apply
// of a manifest with an unknown field goes the same way on porthole serve
// as on the real API server: exit code, output and warnings.
func TestSameKubectlFieldValidation(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	for _, k := range env.kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			name := fmt.Sprintf("fv-%d", k.Minor)
			f := filepath.Join(t.TempDir(), "cm.yaml")
			manifest := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  a: '1'\ndatta:\n  b: '2'\n", name)
			if err := os.WriteFile(f, []byte(manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			steps := [][]string{
				{"create", "-f", f},
				{"apply", "-f", f},
				{"apply", "--validate=warn", "-f", f},
				{"apply", "--validate=false", "-f", f},
				{"replace", "--validate=strict", "-f", f},
				{"replace", "--validate=warn", "-f", f},
				{"apply", "--server-side", "-f", f},
				{"get", "configmap", name, "-o", "jsonpath={.data}"},
			}
			servers := []string{env.adminKubeconfig, srv.Kubeconfig}
			answers := make([][]string, len(servers))
			for i, kubeconfig := range servers {
				c := direct(k, k.Wires()[0], nil, t.TempDir())
				defer c.run(t, kubeconfig, nil, "delete", "configmap", name, "--ignore-not-found")
				for _, args := range steps {
					r := c.run(t, kubeconfig, nil, args...)
					answers[i] = append(answers[i], fmt.Sprintf("%s: exit %d, %q %q", strings.Join(args[:2], " "), r.code, r.stdout, strings.ReplaceAll(string(r.stderr), f, "FILE")))
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
