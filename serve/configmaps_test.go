package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKubectlConfigMaps: kubectl creates, reads, changes and deletes
// ConfigMaps, kubectl 1.32 and later in protobuf, and a Deployment's pods
// read their environment from them as on a real cluster: envFrom, a
// key, the downward API; a pod whose ConfigMap is missing waits with
// CreateContainerConfigError, says why in its events, and starts once
// the ConfigMap is created.
func TestKubectlConfigMaps(t *testing.T) {
	eachKubectl(t, "cm-", func(t *testing.T, k kubectl, ns string) {
		k.expect(t, "namespace/"+ns+" created\n", "create", "namespace", ns)
		dir := t.TempDir()
		logo := []byte{0x89, 'P', 'N', 'G', 0, 0xff, '\n'}
		if err := os.WriteFile(filepath.Join(dir, "logo.png"), logo, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("port=8080\nname=\"web\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		k.expect(t, "configmap/files created\n", "-n", ns, "create", "configmap", "files",
			"--from-file="+filepath.Join(dir, "logo.png"), "--from-file="+filepath.Join(dir, "app.conf"), "--from-literal=mode=prod")
		out, errOut, code := k.run(t, "-n", ns, "get", "configmaps")
		if code != 0 || !regexpMatch(`^NAME +DATA +AGE\nfiles +3 +\d+s\n$`, out) {
			t.Errorf("get configmaps: exit %d %q %s", code, out, errOut)
		}
		k.expect(t, "port=8080\nname=\"web\"\n|prod|iVBORwD/Cg==", "-n", ns, "get", "cm", "files", "-o",
			`jsonpath={.data.app\.conf}|{.data.mode}|{.binaryData.logo\.png}`)
		k.expect(t, "configmap/files labeled\n", "-n", ns, "label", "configmap", "files", "tier=web")
		k.expect(t, "configmap/files patched\n", "-n", ns, "patch", "configmap", "files", "-p", `{"data":{"mode":"dev"}}`)
		k.expect(t, "dev|web", "-n", ns, "get", "cm", "-l", "tier=web", "-o", `jsonpath={.items[0].data.mode}|{.items[0].metadata.labels.tier}`)

		// A Deployment whose pods read the ConfigMaps, one of which is
		// not there yet.
		app := filepath.Join(dir, "app.yaml")
		if err := os.WriteFile(app, []byte(fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: %[1]s}
data: {GREETING: hello, COLOR: blue}
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
        command: [sh, -c, 'echo "$GREETING $COLOR from $POD_NAME in $POD_NAMESPACE at $POD_IP: $MODE $LATE"; sleep infinity']
        envFrom: [{configMapRef: {name: app}}]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: MODE, valueFrom: {configMapKeyRef: {name: files, key: mode}}}
        - {name: LATE, valueFrom: {configMapKeyRef: {name: late, key: value}}}
`, ns)), 0o600); err != nil {
			t.Fatal(err)
		}
		k.expect(t, "configmap/app created\ndeployment.apps/web created\n", "apply", "-f", app)
		k.expect(t, "configmap/app unchanged\ndeployment.apps/web unchanged\n", "apply", "-f", app)
		pod := ""
		waitFor(t, "a pod waiting on its ConfigMap", func() bool {
			out, _, _ := k.run(t, "-n", ns, "get", "pods", "-l", "app=web", "-o",
				`jsonpath={.items[0].metadata.name} {.items[0].status.containerStatuses[0].state.waiting.reason}`)
			pod, _, _ = strings.Cut(out, " ")
			return strings.HasSuffix(out, " CreateContainerConfigError")
		})
		k.expect(t, `configmap "late" not found`, "-n", ns, "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].state.waiting.message}")
		waitFor(t, "the Failed event", func() bool {
			out, _, _ := k.run(t, "-n", ns, "get", "events", "--field-selector", "involvedObject.name="+pod, "-o",
				`jsonpath={range .items[*]}{.type} {.reason} {.message}{"\n"}{end}`)
			return strings.Contains(out, "Warning Failed Error: configmap \"late\" not found\n")
		})
		k.expect(t, "configmap/late created\n", "-n", ns, "create", "configmap", "late", "--from-literal=value=arrived")
		if out, errOut, code := k.run(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=30s"); code != 0 ||
			!strings.HasSuffix(out, `deployment "web" successfully rolled out`+"\n") {
			t.Fatalf("rollout status: exit %d %q %q", code, out, errOut)
		}
		k.expect(t, fmt.Sprintf("hello blue from %s in %s at 127.0.0.1: dev arrived\n", pod, ns), "-n", ns, "logs", pod)
		k.expect(t, "blue dev\n", "-n", ns, "exec", pod, "--", "sh", "-c", "echo $COLOR $MODE")

		// An immutable ConfigMap stays as it is.
		k.expect(t, "configmap/frozen created\n", "-n", ns, "create", "configmap", "frozen", "--from-literal=a=1")
		k.expect(t, "configmap/frozen patched\n", "-n", ns, "patch", "configmap", "frozen", "-p", `{"immutable":true}`)
		k.expectError(t, "data: Forbidden: field is immutable when `immutable` is set", "-n", ns, "patch", "configmap", "frozen", "-p", `{"data":{"a":"2"}}`)
		k.expectError(t, "a b", "-n", ns, "create", "configmap", "bad", "--from-literal=a b=1")
		k.expect(t, `configmap "files" deleted`+"\n", "-n", ns, "delete", "configmap", "files")
		k.expectError(t, `configmaps "files" not found`, "-n", ns, "get", "configmap", "files")
		k.expect(t, `namespace "`+ns+`" deleted`+"\n", "delete", "namespace", ns, "--timeout=60s")
		if out, errOut, code := k.run(t, "-n", ns, "get", "configmaps"); code != 0 || out != "" || errOut != "No resources found in "+ns+" namespace.\n" {
			t.Errorf("the deleted namespace's ConfigMaps: exit %d %q %q", code, out, errOut)
		}
	})
}

// waitFor polls cond until it holds, within a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never %s", what)
		}
		time.Sleep(100 * time.Millisecond) // polling a state, not ordering events
	}
}
