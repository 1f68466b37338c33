package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/porthole/porthole/internal/selfcert"
)

// TestSameSecrets: Secrets are written and refused on porthole serve as on
// the real API server: stringData folded into data by every kind of
// write (create, merge, strategic and JSON patches, replace, server-side
// apply), each type's required keys (every problem reported, with its
// causes), the type and an immutable Secret's data kept, a TLS Secret of
// another's key warned of, the size bound, the type's field selector.
// Each step's status, message, causes and warnings, and the object's
// data, type, managedFields are compared.
func TestSameSecrets(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	ns := sameNamespace(t, srv, "secrets-")
	crt, key, otherKey := pemPair(t)
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	secret := func(name, typ, rest string) string {
		s := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"` + name + `"}`
		if typ != "" {
			s += `,"type":"` + typ + `"`
		}
		if rest != "" {
			s += "," + rest
		}
		return s + "}"
	}
	const (
		apply     = "application/apply-patch+yaml"
		merge     = "application/merge-patch+json"
		strategic = "application/strategic-merge-patch+json"
		jsonPatch = "application/json-patch+json"
	)
	col := "/api/v1/namespaces/" + ns + "/secrets"
	one := func(name string) string { return col + "/" + name }
	steps := []struct {
		name, method, path, ctype, body string
	}{
		{"generic, stringData over data", "POST", col + "?fieldManager=alice", "application/json",
			secret("app", "", `"data":{"user":"Ym9i","mode":"b2xk"},"stringData":{"mode":"new","token":"abc"}`)},
		{"the same name again", "POST", col, "application/json", secret("app", "", "")},
		// One bad key to a map: the API server reports a map's keys in its
		// iteration order, which changes from one request to the next.
		{"tls without its keys, a bad key", "POST", col, "application/json",
			secret("tls-bad", "kubernetes.io/tls", `"stringData":{"a b":"x","ok":"y"}`)},
		{"a key too long and bad", "POST", col, "application/json",
			secret("long", "", `"stringData":{"`+strings.Repeat("k", 253)+`@":"x"}`)},
		{"basic-auth without either key", "POST", col, "application/json", secret("basic", "kubernetes.io/basic-auth", "")},
		{"basic-auth with an empty password", "POST", col, "application/json", secret("basic", "kubernetes.io/basic-auth", `"data":{"password":""}`)},
		{"ssh-auth with an empty key", "POST", col, "application/json", secret("ssh", "kubernetes.io/ssh-auth", `"data":{"ssh-privatekey":""}`)},
		{"dockerconfigjson not JSON", "POST", col, "application/json",
			secret("registry", "kubernetes.io/dockerconfigjson", `"stringData":{".dockerconfigjson":"{\"auths\":"}`)},
		{"dockercfg not an object", "POST", col, "application/json",
			secret("registry", "kubernetes.io/dockercfg", `"stringData":{".dockercfg":"[1]"}`)},
		{"service account token without its account", "POST", col, "application/json",
			secret("sa", "kubernetes.io/service-account-token", "")},
		{"an unknown type", "POST", col, "application/json", secret("mine", "example.com/mine", `"stringData":{"k":"v"}`)},
		{"too large", "POST", col, "application/json",
			secret("big", "", `"stringData":{"a":"`+strings.Repeat("x", 1<<19)+`","b":"`+strings.Repeat("y", 1<<19)+`x"}`)},
		{"tls of another's key", "POST", col + "?fieldManager=alice", "application/json",
			secret("odd-tls", "kubernetes.io/tls", `"data":{"tls.crt":"`+b64(crt)+`","tls.key":"`+b64(otherKey)+`"}`)},
		{"tls of a pair", "POST", col + "?fieldManager=alice", "application/json",
			secret("tls", "kubernetes.io/tls", `"data":{"tls.crt":"`+b64(crt)+`","tls.key":"`+b64(key)+`"}`)},
		{"generateName, dry run", "POST", col + "?dryRun=All", "application/json",
			`{"apiVersion":"v1","kind":"Secret","metadata":{"generateName":"gen-"},"stringData":{"k":"v"}}`},
		{"merge patch of stringData", "PATCH", one("app") + "?fieldManager=bob", merge, `{"stringData":{"token":"def"}}`},
		{"strategic patch of stringData", "PATCH", one("app") + "?fieldManager=carol", strategic, `{"stringData":{"extra":"1"},"data":{"user":null}}`},
		{"JSON patch adding stringData", "PATCH", one("app") + "?fieldManager=dave", jsonPatch, `[{"op":"add","path":"/stringData","value":{"late":"yes"}}]`},
		{"tls patched to another's key", "PATCH", one("tls"), merge, `{"data":{"tls.key":"` + b64(otherKey) + `"}}`},
		{"type patched", "PATCH", one("tls"), merge, `{"type":"Opaque"}`},
		{"tls replaced without a type", "PUT", one("tls"), "application/json",
			`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls"},"data":{"tls.crt":"Yw==","tls.key":"aw=="}}`},
		{"tls patched without its certificate", "PATCH", one("tls"), merge, `{"data":{"tls.crt":null}}`},
		{"made immutable", "PATCH", one("app") + "?fieldManager=erin", merge, `{"immutable":true}`},
		{"immutable: data patched", "PATCH", one("app"), merge, `{"stringData":{"user":"eve"}}`},
		{"immutable: all of it", "PATCH", one("app"), merge, `{"immutable":false,"type":"kubernetes.io/basic-auth","data":null}`},
		{"immutable: labelled", "PATCH", one("app") + "?fieldManager=erin", merge, `{"metadata":{"labels":{"tier":"web"}}}`},
		{"applied with stringData", "PATCH", one("applied") + "?fieldManager=frank", apply,
			"apiVersion: v1\nkind: Secret\nmetadata: {name: applied}\nstringData: {a: '1', b: '2'}\n"},
		{"applied again, a key changed", "PATCH", one("applied") + "?fieldManager=frank", apply,
			"apiVersion: v1\nkind: Secret\nmetadata: {name: applied}\nstringData: {a: '3'}\n"},
		{"applied with data", "PATCH", one("applied") + "?fieldManager=gina", apply,
			"apiVersion: v1\nkind: Secret\nmetadata: {name: applied}\ndata: {c: NA==}\n"},
		{"the tls ones, by type", "GET", col + "?fieldSelector=type%3Dkubernetes.io%2Ftls", "", ""},
		{"an unknown field selector", "GET", col + "?fieldSelector=data.a%3D1", "", ""},
		{"the app, read", "GET", one("app"), "", ""},
		{"deleted", "DELETE", one("app"), "", ""},
		{"read once deleted", "GET", one("app"), "", ""},
	}
	for _, s := range steps {
		want := sumUpData(t, env.cp.Config, s.method, s.path, s.ctype, s.body)
		got := sumUpData(t, srv.Config, s.method, s.path, s.ctype, s.body)
		t.Logf("%s: %s", s.name, want)
		if got != want {
			t.Errorf("%s: porthole answers\n%s\nthe API server\n%s", s.name, got, want)
		}
	}
}

// sumUpData sends one request and sums up its answer: the status code
// and warnings; a Status's reason, message and causes; a Secret's or
// ConfigMap's type, immutability, data and stringData and its
// managedFields (without their times); a list's names.
func sumUpData(t *testing.T, cfg *rest.Config, method, path, ctype, body string) string {
	t.Helper()
	code, raw, warnings := sendWarned(t, cfg, method, path, ctype, body)
	var b strings.Builder
	fmt.Fprintf(&b, "%d warnings %q\n", code, warnings)
	var obj struct {
		Kind       string                `json:"kind"`
		Reason     string                `json:"reason"`
		Message    string                `json:"message"`
		Details    *metav1.StatusDetails `json:"details"`
		Metadata   metav1.ObjectMeta     `json:"metadata"`
		Type       string                `json:"type"`
		Immutable  *bool                 `json:"immutable"`
		Data       map[string]string     `json:"data"`
		StringData map[string]string     `json:"stringData"`
		Items      []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Sprintf("%s%q", b.String(), raw)
	}
	switch {
	case obj.Kind == "Status":
		fmt.Fprintf(&b, "%s: %s\n", obj.Reason, obj.Message)
		if obj.Details != nil {
			for _, c := range obj.Details.Causes {
				fmt.Fprintf(&b, "  cause %s %s: %s\n", c.Type, c.Field, c.Message)
			}
		}
	case strings.HasSuffix(obj.Kind, "List"):
		var names []string
		for _, it := range obj.Items {
			names = append(names, it.Metadata.Name)
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "%s %v\n", obj.Kind, names)
	default:
		name := obj.Metadata.Name
		if obj.Metadata.GenerateName != "" {
			name = obj.Metadata.GenerateName + "*"
		}
		fmt.Fprintf(&b, "%s %s type=%s immutable=%v labels=%v\n  data=%v\n  stringData=%v\n", obj.Kind, name, obj.Type,
			obj.Immutable != nil && *obj.Immutable, obj.Metadata.Labels, obj.Data, obj.StringData)
		var lines []string
		for _, e := range obj.Metadata.ManagedFields {
			lines = append(lines, fmt.Sprintf("  %s %s %s %s: %s", e.Manager, e.Operation, e.APIVersion, e.Subresource, e.FieldsV1.Raw))
		}
		slices.Sort(lines)
		b.WriteString(strings.Join(lines, "\n"))
	}
	return b.String()
}

// pemPair is a certificate and its key, PEM encoded, and another key
// (its authority's).
func pemPair(t *testing.T) (crt, key, other []byte) {
	t.Helper()
	b, err := selfcert.Ensure(t.TempDir(), []string{"example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var files [3][]byte
	for i, name := range []string{"tls.crt", "tls.key", "ca.key"} {
		if files[i], err = os.ReadFile(filepath.Join(b.Dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return files[0], files[1], files[2]
}

// age is a table's AGE cell.
var age = regexp.MustCompile(`\b\d+s\b`)

// TestSameKubectlSecrets: each kubectl's secret commands go the same way
// on porthole serve as on the real API server: kubectl create secret of
// each kind, the table, describe, apply of a manifest with stringData
// (twice) and of a TLS Secret of another's key (warned of), a refused
// type change, delete. Exit codes and output are the same, ages aside
// (and describe's lines sorted: kubectl lists the keys in map order).
func TestSameKubectlSecrets(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	dir := t.TempDir()
	crt, key, otherKey := pemPair(t)
	files := map[string][]byte{"tls.crt": crt, "tls.key": key}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range env.kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			name := fmt.Sprintf("sec-%d", k.Minor)
			manifest := filepath.Join(t.TempDir(), "secrets.yaml")
			err := os.WriteFile(manifest, []byte(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[1]s-app}
stringData: {token: abc}
data: {user: Ym9i}
---
apiVersion: v1
kind: Secret
metadata: {name: %[1]s-odd}
type: kubernetes.io/tls
data: {tls.crt: %[2]s, tls.key: %[3]s}
`, name, base64.StdEncoding.EncodeToString(crt), base64.StdEncoding.EncodeToString(otherKey))), 0o600)
			if err != nil {
				t.Fatal(err)
			}
			steps := [][]string{
				{"create", "secret", "generic", name, "--from-literal=user=bob", "--from-literal=password=s3cr3t"},
				{"create", "secret", "generic", name, "--from-literal=a=1"},
				{"create", "secret", "tls", name + "-tls", "--cert", filepath.Join(dir, "tls.crt"), "--key", filepath.Join(dir, "tls.key")},
				{"create", "secret", "docker-registry", name + "-reg", "--docker-server=registry.example", "--docker-username=u", "--docker-password=p"},
				{"get", "secrets", name, name + "-tls", name + "-reg"},
				{"describe", "secret", name},
				{"get", "secret", name + "-reg", "-o", "jsonpath={.type} {.data}"},
				{"apply", "-f", manifest},
				{"apply", "-f", manifest},
				{"get", "secret", name + "-app", "-o", "jsonpath={.data} {.stringData}"},
				{"patch", "secret", name + "-tls", "-p", `{"type":"Opaque"}`},
				{"patch", "secret", name, "--type=merge", "-p", `{"immutable":true}`},
				{"patch", "secret", name, "--type=merge", "-p", `{"stringData":{"user":"eve"}}`},
				{"delete", "secret", name, name + "-tls", name + "-reg", name + "-app", name + "-odd"},
			}
			servers := []string{env.adminKubeconfig, srv.Kubeconfig}
			answers := make([][]string, len(servers))
			for i, kubeconfig := range servers {
				c := direct(k, k.Wires()[0], nil, t.TempDir())
				defer c.run(t, kubeconfig, nil, "delete", "secret", name, name+"-tls", name+"-reg", name+"-app", name+"-odd", "--ignore-not-found")
				for _, args := range steps {
					r := c.run(t, kubeconfig, nil, args...)
					out := age.ReplaceAllString(string(r.stdout), "AGE")
					if args[0] == "describe" {
						// kubectl lists the data keys in map order.
						lines := strings.Split(out, "\n")
						slices.Sort(lines)
						out = strings.Join(lines, "\n")
					}
					answers[i] = append(answers[i], fmt.Sprintf("%s: exit %d, %q %q", strings.Join(args[:2], " "), r.code, out, strings.ReplaceAll(string(r.stderr), manifest, "FILE")))
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
