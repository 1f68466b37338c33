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
// POST and DELETE, a Deployment's PATCH, its scale's PATCH and PUT) are
// authorized like every other request: a viewer is refused with 403 and
// the pod stays; an editor's create and delete go through; a write body
// over the bound is refused with 413 before it reaches serve.
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
  - {apiGroups: [""], resources: [pods], verbs: [get, list, create, delete]}
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
		{"POST", "/api/v1/namespaces/default/pods"},
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
	made := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"made"},"spec":{"containers":[{"name":"c","command":["sleep","infinity"]}]}}`
	if code, body := do("POST", "/api/v1/namespaces/default/pods", "edit", []byte(made)); code != http.StatusCreated || !strings.Contains(body, `"name":"made"`) {
		t.Errorf("editor create: %d %s, want 201", code, body)
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

// TestCreatePod: a POSTed pod (kubectl run's) is stored, scheduled and
// run, named or from its generateName; a duplicate, an unknown namespace,
// an invalid pod, one the runtime cannot run, another kind, a namespace
// other than the path's, a body that is not JSON or too large and a dry
// run are refused with the API server's Status, naming what is wrong.
func TestCreatePod(t *testing.T) {
	s, _ := startServer(t, Options{})
	post := func(path, contentType, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(s.URL()+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const pods = "/api/v1/namespaces/default/pods"
	pod := func(meta string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":` + meta + `,"spec":{"containers":[{"name":"c","image":"busybox","args":["sleep","infinity"],"resources":{}}]},"status":{}}`
	}
	code, body := post(pods, "application/json", pod(`{"name":"run1","labels":{"run":"run1"}}`))
	var p kube.Pod
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusCreated || err != nil || p.Name != "run1" || p.Namespace != "default" ||
		p.UID == "" || p.ResourceVersion == "" || p.Labels["run"] != "run1" || p.Spec.RestartPolicy != "Always" {
		t.Fatalf("create: %d %v %s", code, err, body)
	}
	if got := readyPods(t, s, "run%3Drun1", 1); got[0] != "run1" {
		t.Errorf("running %v", got)
	}
	code, body = post(pods, "application/json", pod(`{"generateName":"gen-"}`))
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusCreated || err != nil || !strings.HasPrefix(p.Name, "gen-") || len(p.Name) != len("gen-")+5 {
		t.Errorf("create from generateName: %d %v %s", code, err, body)
	}
	for _, tt := range []struct {
		path, contentType, body string
		code                    int
		reason, message         string
	}{
		{pods, "application/json", pod(`{"name":"run1"}`), 409, "AlreadyExists", `pods \"run1\" already exists`},
		{"/api/v1/namespaces/nope/pods", "application/json", pod(`{"name":"x"}`), 404, "NotFound", `namespaces \"nope\" not found`},
		{pods, "application/json", pod(`{"name":"Bad_Name"}`), 422, "Invalid", `"causes":[{"reason":"FieldValueInvalid","message":"invalid value \"Bad_Name\": must be a DNS-1123 subdomain`},
		{pods, "application/json", pod(`{}`), 422, "Invalid", `"field":"metadata.name"`},
		{pods, "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"initContainers":[{"name":"i","command":["true"]}],"containers":[{"name":"c"}]}}`,
			422, "Invalid", `{"reason":"FieldValueInvalid","message":"pod default/x: initContainers are not supported","field":"spec"}`},
		{pods, "application/json", pod(`{"name":"x","namespace":"kube-system"}`), 400, "BadRequest", "does not match the namespace sent on the request"},
		{pods, "application/json", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"}}`, 400, "BadRequest", `not a v1 Pod`},
		{pods, "application/json", `{"kind":`, 400, "BadRequest", "decode Pod"},
		{pods, "application/yaml", pod(`{"name":"x"}`), 415, "UnsupportedMediaType", `(got \"application/yaml\")`},
		{pods + "?dryRun=All", "application/json", pod(`{"name":"x"}`), 400, "BadRequest", "dryRun is not supported"},
		{pods, "application/json", pod(`{"name":"x","annotations":{"a":"` + strings.Repeat("a", 64<<10) + `"}}`), 413, "RequestEntityTooLarge", "too large"},
		{"/api/v1/pods", "application/json", pod(`{"name":"x"}`), 405, "MethodNotAllowed", ""},
	} {
		code, body := post(tt.path, tt.contentType, tt.body)
		if code != tt.code || !strings.Contains(body, `"reason":"`+tt.reason+`"`) || !strings.Contains(body, tt.message) {
			t.Errorf("POST %s %.60s: %d %s, want %d %s %q", tt.path, tt.body, code, body, tt.code, tt.reason, tt.message)
		}
	}
	if code, body := get(t, s.URL()+pods+"/x"); code != http.StatusNotFound {
		t.Errorf("a refused pod exists: %d %s", code, body)
	}
}
