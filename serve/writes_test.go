package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// TestGatewayWrites: the writes the gateway forwards to serve (a pod's
// DELETE, a Deployment's PATCH, its scale's PATCH and PUT) are authorized like every other request: a
// viewer is refused with 403 and the pod stays; an editor's delete goes
// through and the pod goes; a write body over the bound is refused with
// 413 before it reaches serve.
func TestGatewayWrites(t *testing.T) {
	tokens, err := gateway.ParseTokens(strings.NewReader("view,viewer,1\nedit,editor,2\n"))
	if err != nil {
		t.Fatal(err)
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(`apiVersion: rbac.authorization.k8s.io/v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: view}
  rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: edit}
  rules:
  - {apiGroups: [""], resources: [pods], verbs: [get, list, delete]}
  - {apiGroups: [apps], resources: [deployments], verbs: [get, patch]}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: view, namespace: default}
  subjects: [{kind: User, name: viewer}]
  roleRef: {kind: ClusterRole, name: view}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: edit, namespace: default}
  subjects: [{kind: User, name: editor}]
  roleRef: {kind: ClusterRole, name: edit}
`)); err != nil {
		t.Fatal(err)
	}
	s, stop := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("victim")},
		Gateway: &gateway.Options{Tokens: tokens, Authorizer: rbac}})
	defer stop()
	do := func(method, path, token string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/strategic-merge-patch+json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const pod = "/api/v1/namespaces/default/pods/victim"
	if code, _ := do("GET", pod, "view", nil); code != http.StatusOK {
		t.Fatalf("viewer get: %d", code)
	}
	for _, w := range []struct{ method, path string }{
		{"DELETE", pod},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web"},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale"},
		{"PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale"},
	} {
		code, body := do(w.method, w.path, "view", []byte(`{}`))
		var st struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal([]byte(body), &st)
		if code != http.StatusForbidden || st.Reason != "Forbidden" || !strings.Contains(st.Message, `"viewer"`) {
			t.Errorf("viewer %s %s: %d %s, want a 403 Status naming the user", w.method, w.path, code, body)
		}
	}
	// Scaling is authorized on the subresource: patching deployments
	// is not enough.
	if code, body := do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", "edit", []byte(`{"spec":{"replicas":3}}`)); code != http.StatusForbidden ||
		!strings.Contains(body, `cannot patch resource \"deployments/scale\" in API group \"apps\"`) {
		t.Errorf("editor scale: %d %s, want 403 for deployments/scale", code, body)
	}
	if code, body := do("GET", pod, "view", nil); code != http.StatusOK || strings.Contains(body, "deletionTimestamp") {
		t.Fatalf("after the refused delete: %d %s, want the pod untouched", code, body)
	}
	big := append([]byte(`{"kind":"DeleteOptions","apiVersion":"v1","x":"`), bytes.Repeat([]byte("a"), 2<<20)...)
	big = append(big, `"}`...)
	// The gateway's own refusal (serve bounds its body too, in other words).
	if code, body := do("DELETE", pod, "edit", big); code != http.StatusRequestEntityTooLarge ||
		!strings.Contains(body, "the request body is larger than 1048576 bytes") {
		t.Errorf("2 MiB delete body: %d %.200s, want the gateway's 413", code, body)
	}
	if code, body := do("DELETE", pod+"?gracePeriodSeconds=0", "edit", nil); code != http.StatusOK {
		t.Fatalf("editor delete: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := do("GET", pod, "edit", nil)
		if code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod still there after its delete: %d %.300s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
