package serve

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// TestServerSideApplyAPI: the API answers server-side applies as the API
// server does: a fieldManager is needed, force only for an apply, a
// missing object is created (201), a conflict is a 409 whose causes name
// the fields and their managers, and the pod's ephemeral containers take
// no apply.
func TestServerSideApplyAPI(t *testing.T) {
	s, _ := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("keep")}})
	const cms, apply = "/api/v1/namespaces/default/configmaps", "application/apply-patch+yaml"
	cm := func(data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata: {" + data + "}\n"
	}
	for _, tt := range []struct {
		method, path, contentType, body string
		code                            int
		want                            string
	}{
		{"PATCH", cms + "/app", apply, cm("a: '1'"), 422, `PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch`},
		{"PATCH", cms + "/app?fieldManager=" + strings.Repeat("m", 129), apply, cm("a: '1'"), 422, `fieldManager: Too long: may not be more than 128 bytes`},
		{"PATCH", cms + "/app?fieldManager=a%01", apply, cm("a: '1'"), 422, `invalid character U+0001`},
		{"PATCH", cms + "/app?fieldManager=m&force=true", "application/merge-patch+json", `{}`, 422, `force: Forbidden: may not be specified for non-apply patch`},
		{"PATCH", cms + "/app?fieldManager=m", apply, "a: [", 400, `error decoding patch`},
		{"PATCH", cms + "/app?fieldManager=m", apply, "- 1\n", 400, `an apply patch must be an object`},
		{"PATCH", cms + "/app?fieldManager=alice", apply, cm("a: '1', b: '2'"), 201, `"manager":"alice","operation":"Apply"`},
		{"PATCH", cms + "/app?fieldManager=alice", apply, cm("a: '1', b: '2'"), 200, `"data":{"a":"1","b":"2"}`},
		{"PATCH", cms + "/app?fieldManager=bob", "application/merge-patch+json", `{"data":{"a":"9"}}`, 200, `"manager":"bob","operation":"Update"`},
		{"PATCH", cms + "/app?fieldManager=alice", apply, cm("a: '1'"), 409,
			`"message":"Apply failed with 1 conflict: conflict with \"bob\" using v1: .data.a","reason":"Conflict","details":{"name":"app","kind":"configmaps",` +
				`"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"bob\" using v1","field":".data.a"}]}`},
		{"PATCH", cms + "/app?fieldManager=alice&force=true", apply, cm("a: '1'"), 200, `"data":{"a":"1"}`},
		{"PATCH", "/api/v1/namespaces/default/pods/keep/ephemeralcontainers?fieldManager=m", apply, "{}", 415,
			`accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`},
		{"PATCH", "/api/v1/namespaces/default/pods/keep?fieldManager=m", apply, "apiVersion: v1\nkind: Pod\nmetadata: {labels: {x: y}}\n", 200, `"x":"y"`},
	} {
		code, body := doAs(t, s, tt.method, tt.path, tt.contentType, tt.body)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s %s %.60q: %d %s\nwant %d %s", tt.method, tt.path, tt.body, code, body, tt.code, tt.want)
		}
	}
	// A pod created by an apply: its manager owns what it sent, a field
	// porthole does not keep (tolerations) among it, as the API server
	// would have it.
	code, body := doAs(t, s, "PATCH", "/api/v1/namespaces/default/pods/made?fieldManager=m", apply,
		"apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: c, command: [sleep, '60']}]\n  tolerations: [{operator: Exists}]\n")
	if code != http.StatusCreated || !strings.Contains(body, `"fieldsV1":{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:command":{},"f:name":{}}},"f:tolerations":{}}}`) {
		t.Errorf("a pod created by an apply: %d %s", code, body)
	}
	// A pod keeps its managedFields through the runtime's status.
	var keep kube.Pod
	getJSON(t, s, "/api/v1/namespaces/default/pods/keep", &keep)
	if m := keep.ManagedFields; len(m) != 1 || m[0].Manager != "m" || m[0].Operation != "Apply" || keep.Labels["x"] != "y" {
		t.Errorf("the applied pod read back: labels %v, managedFields %+v", keep.Labels, m)
	}
	// Every write names its manager: the user agent's first word when
	// the request names none, as kubectl edit's PUT does.
	var got kube.ConfigMap
	getJSON(t, s, cms+"/app", &got)
	code, body = doAs(t, s, "PUT", cms+"/app", "application/json",
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app"},"data":{"a":"1","c":"3"}}`)
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil {
		t.Fatalf("PUT: %d %s", code, body)
	}
	var managers []string
	for _, e := range got.ManagedFields {
		managers = append(managers, e.Manager+"/"+e.Operation)
	}
	if strings.Join(managers, ",") != "alice/Apply,Go-http-client/Update" {
		t.Errorf("managers after the PUT: %v, want alice's apply and the Go client's update (bob lost his field to alice's force)", managers)
	}
}

// TestPatchPrecondition: a patch or an apply naming a resourceVersion is
// made against it, as the API server takes it: another is a 409.
func TestPatchPrecondition(t *testing.T) {
	s, _ := startServer(t, Options{})
	const cm = "/api/v1/namespaces/default/configmaps/pre"
	code, body := doAs(t, s, "PATCH", cm+"?fieldManager=a", "application/apply-patch+yaml", "{apiVersion: v1, kind: ConfigMap, data: {a: '1'}}")
	var got kube.ConfigMap
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusCreated || err != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	rv := got.ResourceVersion
	for _, tt := range []struct {
		contentType, body string
		code              int
	}{
		{"application/merge-patch+json", `{"metadata":{"resourceVersion":"1"},"data":{"b":"2"}}`, http.StatusConflict},
		{"application/strategic-merge-patch+json", `{"metadata":{"resourceVersion":"1"},"data":{"b":"2"}}`, http.StatusConflict},
		{"application/json-patch+json", `[{"op":"replace","path":"/metadata/resourceVersion","value":"1"}]`, http.StatusConflict},
		{"application/apply-patch+yaml", "{apiVersion: v1, kind: ConfigMap, metadata: {resourceVersion: '1'}, data: {a: '2'}}", http.StatusConflict},
		{"application/merge-patch+json", `{"metadata":{"resourceVersion":"` + rv + `"},"data":{"b":"2"}}`, http.StatusOK},
	} {
		code, body := doAs(t, s, "PATCH", cm+"?fieldManager=a", tt.contentType, tt.body)
		if code != tt.code || (code == http.StatusConflict && !strings.Contains(body, `Operation cannot be fulfilled on configmaps \"pre\": the object has been modified`)) {
			t.Errorf("%s %s: %d %s, want %d", tt.contentType, tt.body, code, body, tt.code)
		}
	}
}
