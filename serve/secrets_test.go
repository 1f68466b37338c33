package serve

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/selfcert"
)

// TestKubectlSecrets: kubectl creates Secrets of each kind it makes
// (generic, tls, docker-registry; kubectl 1.32 and later in protobuf),
// lists them as the API server's table, selects them by type, describes
// them without their values, and a Deployment's pods read them into
// their environment (envFrom with a prefix, a key), waiting with
// CreateContainerConfigError while one is missing. stringData is folded
// into data and never shown; an immutable Secret stays as it is; a TLS
// Secret whose key is not its certificate's is warned of.
func TestKubectlSecrets(t *testing.T) {
	certs, err := selfcert.Ensure(t.TempDir(), []string{"web.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	crt, key, otherKey := filepath.Join(certs.Dir, "tls.crt"), filepath.Join(certs.Dir, "tls.key"), filepath.Join(certs.Dir, "ca.key")
	crtPEM, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	eachKubectl(t, "secret-", func(t *testing.T, k kubectl, ns string) {
		k.expect(t, "namespace/"+ns+" created\n", "create", "namespace", ns)
		k.expect(t, "secret/db created\n", "-n", ns, "create", "secret", "generic", "db", "--from-literal=user=bob", "--from-literal=password=s3cr3t")
		k.expect(t, "secret/web-tls created\n", "-n", ns, "create", "secret", "tls", "web-tls", "--cert="+crt, "--key="+key)
		k.expect(t, "secret/registry created\n", "-n", ns, "create", "secret", "docker-registry", "registry",
			"--docker-server=registry.example", "--docker-username=u", "--docker-password=p")
		out, errOut, code := k.run(t, "-n", ns, "get", "secrets")
		if code != 0 || !regexpMatch(`^NAME +TYPE +DATA +AGE\ndb +Opaque +2 +\d+s\nregistry +kubernetes.io/dockerconfigjson +1 +\d+s\nweb-tls +kubernetes.io/tls +2 +\d+s\n$`, out) {
			t.Errorf("get secrets: exit %d %q %s", code, out, errOut)
		}
		k.expect(t, "web-tls", "-n", ns, "get", "secrets", "--field-selector", "type=kubernetes.io/tls", "-o", "jsonpath={.items[*].metadata.name}")
		k.expect(t, base64.StdEncoding.EncodeToString([]byte("s3cr3t"))+"|"+base64.StdEncoding.EncodeToString(crtPEM), "-n", ns, "get", "secret", "-o",
			`jsonpath={.items[0].data.password}|{.items[2].data.tls\.crt}`)
		out, errOut, code = k.run(t, "-n", ns, "describe", "secret", "db")
		if code != 0 || !regexpMatch(`(?m)^Type: +Opaque$`, out) || !regexpMatch(`(?m)^password: +6 bytes$`, out) || strings.Contains(out, "s3cr3t") {
			t.Errorf("describe secret: exit %d %q %s", code, out, errOut)
		}

		dir := t.TempDir()
		app := filepath.Join(dir, "app.yaml")
		if err := os.WriteFile(app, []byte(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: api, namespace: %[1]s}
stringData: {TOKEN: abc, MODE: from-string-data}
data: {MODE: ZnJvbS1kYXRh}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        command: [sh, -c, 'echo "$API_TOKEN $API_MODE $DB_USER $DB_PASSWORD $LATE"; sleep infinity']
        envFrom: [{prefix: API_, secretRef: {name: api}}]
        env:
        - {name: DB_USER, valueFrom: {secretKeyRef: {name: db, key: user}}}
        - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
        - {name: LATE, valueFrom: {secretKeyRef: {name: late, key: value}}}
`, ns)), 0o600); err != nil {
			t.Fatal(err)
		}
		k.expect(t, "secret/api created\ndeployment.apps/web created\n", "apply", "-f", app)
		k.expect(t, "abc|from-string-data|<no value>", "-n", ns, "get", "secret", "api", "-o",
			`go-template={{.data.TOKEN | base64decode}}|{{.data.MODE | base64decode}}|{{.stringData}}`)
		pod := ""
		waitFor(t, "a pod waiting on its Secret", func() bool {
			out, _, _ := k.run(t, "-n", ns, "get", "pods", "-l", "app=web", "-o",
				`jsonpath={.items[0].metadata.name} {.items[0].status.containerStatuses[0].state.waiting.reason}`)
			pod, _, _ = strings.Cut(out, " ")
			return strings.HasSuffix(out, " CreateContainerConfigError")
		})
		k.expect(t, `secret "late" not found`, "-n", ns, "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].state.waiting.message}")
		k.expect(t, "secret/late created\n", "-n", ns, "create", "secret", "generic", "late", "--from-literal=value=arrived")
		if out, errOut, code := k.run(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=30s"); code != 0 ||
			!strings.HasSuffix(out, `deployment "web" successfully rolled out`+"\n") {
			t.Fatalf("rollout status: exit %d %q %q", code, out, errOut)
		}
		k.expect(t, "abc from-string-data bob s3cr3t arrived\n", "-n", ns, "logs", pod)

		// A TLS Secret whose key is another's is stored, and warned of.
		mismatched := filepath.Join(dir, "mismatched.yaml")
		if err := os.WriteFile(mismatched, []byte(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: odd-tls, namespace: %s}\ntype: kubernetes.io/tls\ndata: {tls.crt: %s, tls.key: %s}\n",
			ns, base64.StdEncoding.EncodeToString(crtPEM), base64.StdEncoding.EncodeToString(otherPEM))), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := k.run(t, "create", "-f", mismatched); code != 0 || out != "secret/odd-tls created\n" ||
			errOut != "Warning: tls: private key does not match public key\n" {
			t.Errorf("create a mismatched TLS Secret: exit %d %q %q", code, out, errOut)
		}
		k.expectError(t, `type: Invalid value: "Opaque": field is immutable`, "-n", ns, "patch", "secret", "odd-tls", "-p", `{"type":"Opaque"}`)

		// An immutable Secret stays as it is.
		k.expect(t, "secret/db patched\n", "-n", ns, "patch", "secret", "db", "-p", `{"immutable":true}`)
		k.expectError(t, "data: Forbidden: field is immutable when `immutable` is set", "-n", ns, "patch", "secret", "db", "-p", `{"stringData":{"user":"eve"}}`)
		k.expect(t, `secret "db" deleted`+"\n", "-n", ns, "delete", "secret", "db")
		k.expectError(t, `secrets "db" not found`, "-n", ns, "get", "secret", "db")
		k.expect(t, `namespace "`+ns+`" deleted`+"\n", "delete", "namespace", ns, "--timeout=60s")
		if out, errOut, code := k.run(t, "-n", ns, "get", "secrets"); code != 0 || out != "" || errOut != "No resources found in "+ns+" namespace.\n" {
			t.Errorf("the deleted namespace's Secrets: exit %d %q %q", code, out, errOut)
		}
	})
}
