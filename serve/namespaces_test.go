package serve

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/status"
)

// TestNamespaceWrites: namespaces are created, refused and deleted as the
// API server does it: a manifest's namespace exists from the start; a
// deleted namespace is Terminating, refuses new content with the
// NamespaceTerminating cause, waits for its pods to stop and then goes.
func TestNamespaceWrites(t *testing.T) {
	s, _ := startServer(t, Options{Namespaces: []*kube.Namespace{{ObjectMeta: kube.ObjectMeta{Name: "team", Labels: map[string]string{"owner": "web"}}}}})
	var team kube.Namespace
	getJSON(t, s, "/api/v1/namespaces/team", &team)
	if team.Labels["owner"] != "web" || team.Labels["kubernetes.io/metadata.name"] != "team" || team.Status.Phase != "Active" {
		t.Errorf("the manifest's namespace: %+v", team)
	}
	code, body := do(t, s, "POST", "/api/v1/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}}`)
	var dev kube.Namespace
	if err := json.Unmarshal([]byte(body), &dev); code != 201 || err != nil || dev.Name != "dev" || dev.Status.Phase != "Active" ||
		len(dev.Spec.Finalizers) != 1 || dev.UID == "" {
		t.Fatalf("create: %d %s", code, body)
	}
	statusOf := func(body string) status.Status {
		t.Helper()
		var st status.Status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("not a Status: %s", body)
		}
		return st
	}
	code, body = do(t, s, "POST", "/api/v1/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}}`)
	if st := statusOf(body); code != 409 || st.Reason != "AlreadyExists" || st.Message != `namespaces "dev" already exists` {
		t.Errorf("create again: %d %s", code, body)
	}
	code, body = do(t, s, "POST", "/api/v1/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"Dev"}}`)
	if st := statusOf(body); code != 422 || st.Reason != "Invalid" {
		t.Errorf("an invalid name: %d %s", code, body)
	}

	// A pod that ignores SIGTERM holds the namespace for its grace period.
	pod := func(name string) string {
		return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q},"spec":{"terminationGracePeriodSeconds":60,
			"containers":[{"name":"c","command":["sh","-c","trap '' TERM; echo ready; exec sleep 1000"]}]}}`, name)
	}
	if code, body := do(t, s, "POST", "/api/v1/namespaces/dev/pods", pod("stubborn")); code != 201 {
		t.Fatalf("create pod: %d %s", code, body)
	}
	// Running is not enough: SIGTERM before the trap would end it.
	for {
		if _, logs := get(t, s.URL()+"/api/v1/namespaces/dev/pods/stubborn/log"); logs == "ready\n" {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a state, not ordering events
	}

	code, body = do(t, s, "DELETE", "/api/v1/namespaces/default", "")
	if st := statusOf(body); code != 403 || st.Reason != "Forbidden" || st.Message != `namespaces "default" is forbidden: this namespace may not be deleted` {
		t.Errorf("delete default: %d %s", code, body)
	}
	code, body = do(t, s, "DELETE", "/api/v1/namespaces/dev", "")
	var deleting kube.Namespace
	if err := json.Unmarshal([]byte(body), &deleting); code != 200 || err != nil || deleting.Status.Phase != "Terminating" || deleting.DeletionTimestamp == "" {
		t.Fatalf("delete: %d %s", code, body)
	}
	code, body = do(t, s, "POST", "/api/v1/namespaces/dev/pods", pod("late"))
	st := statusOf(body)
	if code != 403 || st.Reason != "Forbidden" ||
		st.Message != `pods "late" is forbidden: unable to create new content in namespace dev because it is being terminated` ||
		st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != "NamespaceTerminating" {
		t.Errorf("a pod in a terminating namespace: %d %s", code, body)
	}
	// Past the settling second, the pod is stopping and holds the namespace.
	for {
		var p kube.Pod
		getJSON(t, s, "/api/v1/namespaces/dev/pods/stubborn", &p)
		if p.DeletionTimestamp != "" {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a state, not ordering events
	}
	var still kube.Namespace
	getJSON(t, s, "/api/v1/namespaces/dev", &still)
	if still.Status.Phase != "Terminating" {
		t.Errorf("the namespace with a stopping pod: %+v", still.Status)
	}
	if code, body := do(t, s, "DELETE", "/api/v1/namespaces/dev/pods/stubborn?gracePeriodSeconds=0", ""); code != 200 {
		t.Fatalf("force delete: %d %s", code, body)
	}
	for {
		code, body := get(t, s.URL()+"/api/v1/namespaces/dev")
		if code == 404 {
			if st := statusOf(body); st.Message != `namespaces "dev" not found` {
				t.Errorf("gone: %s", body)
			}
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a state, not ordering events
	}
	if code, body := do(t, s, "POST", "/api/v1/namespaces/dev/pods", pod("again")); code != 404 || statusOf(body).Message != `namespaces "dev" not found` {
		t.Errorf("a pod in a deleted namespace: %d %s", code, body)
	}
}

// TestKubectlNamespaces: every kubectl creates, labels, fills, applies
// and deletes namespaces as on a real cluster, and is refused the
// deletion of default.
func TestKubectlNamespaces(t *testing.T) {
	eachKubectl(t, "ns-", func(t *testing.T, k kubectl, ns string) {
		k.expect(t, "namespace/"+ns+" created\n", "create", "namespace", ns)
		k.expect(t, "Active", "get", "namespace", ns, "-o", "jsonpath={.status.phase}")
		k.expect(t, "deployment.apps/web created\n", "-n", ns, "create", "deployment", "web", "--image=busybox", "--", "sleep", "infinity")
		k.expect(t, `deployment "web" successfully rolled out`+"\n", "-n", ns, "rollout", "status", "deployment/web", "--timeout=30s")
		k.expect(t, "namespace/"+ns+" labeled\n", "label", "namespace", ns, "team=web")
		k.expect(t, "team=web,kubernetes.io/metadata.name="+ns, "get", "namespaces", "-l", "team=web", "-o",
			`jsonpath={range .items[*]}team={.metadata.labels.team},kubernetes.io/metadata.name={.metadata.labels.kubernetes\.io/metadata\.name}{end}`)
		if out, errOut, code := k.run(t, "delete", "namespace", "default"); code != 1 ||
			!strings.Contains(errOut, `namespaces "default" is forbidden: this namespace may not be deleted`) {
			t.Errorf("delete default: exit %d %q %q", code, out, errOut)
		}
		k.expect(t, `namespace "`+ns+`" deleted`+"\n", "delete", "namespace", ns, "--timeout=60s")
		if out, errOut, code := k.run(t, "get", "namespace", ns); code != 1 || !strings.Contains(errOut, `namespaces "`+ns+`" not found`) {
			t.Errorf("get the deleted namespace: exit %d %q %q", code, out, errOut)
		}
		if out, errOut, code := k.run(t, "-n", ns, "get", "deployments,replicasets,pods"); code != 0 || out != "" ||
			errOut != "No resources found in "+ns+" namespace.\n" {
			t.Errorf("what the deleted namespace held: exit %d %q %q", code, out, errOut)
		}

		// A manifest that holds its namespace: applied in order, applied
		// again unchanged, deleted whole.
		app := filepath.Join(t.TempDir(), "app.yaml")
		if err := os.WriteFile(app, []byte(fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s-app, labels: {team: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s-app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: busybox, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: %[1]s-app}
spec: {selector: {app: web}, ports: [{port: 80}]}
`, ns)), 0o600); err != nil {
			t.Fatal(err)
		}
		k.expect(t, "namespace/"+ns+"-app created\ndeployment.apps/web created\nservice/web created\n", "apply", "-f", app)
		k.expect(t, "namespace/"+ns+"-app unchanged\ndeployment.apps/web unchanged\nservice/web unchanged\n", "apply", "-f", app)
		k.expect(t, `namespace "`+ns+`-app" deleted`+"\n"+`deployment.apps "web" deleted`+"\n"+`service "web" deleted`+"\n", "delete", "-f", app, "--timeout=60s")
		if out, errOut, code := k.run(t, "get", "namespace", ns+"-app"); code != 1 || !strings.Contains(errOut, "not found") {
			t.Errorf("get the deleted namespace: exit %d %q %q", code, out, errOut)
		}
	})
}
