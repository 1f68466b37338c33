package gateway

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzAPIPath: for any request target the gateway accepts, the attributes
// it authorizes name segments of the path exactly as forwarded: no name
// holds a slash, a dot segment or an escape, and rebuilding the path from
// them gives the path sent upstream.
func FuzzAPIPath(f *testing.F) {
	for _, s := range []string{"/api", "/apis/apps/v1", "/api/v1/namespaces/dev/pods/web/exec",
		"/apis/apps/v1/namespaces/dev/deployments/web", "/api/v1/namespaces/dev", "/api/v1/namespaces/dev/status",
		"/api/v1/pods", "/apis/..%2F..%2Fapi%2Fv1%2Fsecrets", "/api/v1/namespaces/a/pods/x%2F..%2Fy/exec",
		"/api/v1/namespaces/%2e%2e/pods", "/api//v1", "/apis/a/b/c/d/e/f/g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || checkPath(u) != nil {
			return
		}
		if !strings.HasPrefix(u.Path, "/api") {
			return
		}
		req, ok := parseAPIPath(u.Path)
		if !ok || !req.resource {
			return
		}
		for _, seg := range []string{req.group, req.version, req.namespace, req.kind, req.name, req.subresource} {
			if strings.ContainsAny(seg, "/%\\") || seg == "." || seg == ".." {
				t.Fatalf("%q: segment %q", target, seg)
			}
		}
		if !strings.Contains(u.Path, "/"+req.kind) || (req.name != "" && !strings.Contains(u.Path, req.kind+"/"+req.name)) {
			t.Fatalf("%q: attributes %+v do not name the path", target, req)
		}
		if u.EscapedPath() != u.Path {
			t.Fatalf("%q: forwarded %q differs from authorized %q", target, u.EscapedPath(), u.Path)
		}
	})
}

func TestParseAPIPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want apiRequest
		ok   bool
	}{
		{"/api/v1", apiRequest{}, true},
		{"/apis/apps", apiRequest{}, true},
		{"/api/v1/pods", apiRequest{resource: true, version: "v1", kind: "pods"}, true},
		{"/api/v1/namespaces", apiRequest{resource: true, version: "v1", kind: "namespaces"}, true},
		{"/api/v1/namespaces/dev", apiRequest{resource: true, version: "v1", namespace: "dev", kind: "namespaces", name: "dev"}, true},
		{"/api/v1/namespaces/dev/status", apiRequest{resource: true, version: "v1", namespace: "dev", kind: "namespaces", name: "dev", subresource: "status"}, true},
		{"/api/v1/namespaces/dev/pods/web/exec", apiRequest{resource: true, version: "v1", namespace: "dev", kind: "pods", name: "web", subresource: "exec"}, true},
		{"/apis/apps/v1/namespaces/dev/deployments/web", apiRequest{resource: true, group: "apps", version: "v1", namespace: "dev", kind: "deployments", name: "web"}, true},
		{"/api/v1/namespaces/dev/pods/web/proxy/x", apiRequest{}, false},
		{"/api/v1/watch/pods", apiRequest{}, false},
		{"/version", apiRequest{}, false},
	} {
		got, ok := parseAPIPath(tc.path)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: %+v %v, want %+v %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

// TestWriteVerb: only the POST to a namespace and the DELETE, PATCH and
// PUT of a pod, Service or Deployment, a ReplicaSet's DELETE, a
// Deployment's scale's and a pod's ephemeral containers' PATCH and PUT
// are forwarded writes; anything
// else, including other subresources, kinds and collections, is not.
func TestWriteVerb(t *testing.T) {
	for _, tc := range []struct {
		method, path, verb string
	}{
		{"DELETE", "/api/v1/namespaces/default/pods/web-1", "delete"},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web", "patch"},
		{"DELETE", "/api/v1/namespaces/default/pods", "deletecollection"},
		{"DELETE", "/api/v1/pods", ""},
		{"DELETE", "/api/v1/namespaces", ""},
		{"DELETE", "/apis/apps/v1/namespaces/default/replicasets", "deletecollection"},
		{"DELETE", "/api/v1/namespaces/default/pods/web-1/status", ""},
		{"PATCH", "/api/v1/namespaces/default/pods/web-1", "patch"},
		{"PATCH", "/api/v1/namespaces/default/pods/web-1/status", ""},
		{"PATCH", "/apis/apps/v1/namespaces/default/replicasets/web-1", ""},
		{"POST", "/api/v1/namespaces/default/pods", "create"},
		{"POST", "/api/v1/pods", ""},
		{"PUT", "/api/v1/namespaces/default/pods", ""},
		{"POST", "/api/v1/namespaces/default/services", "create"},
		{"POST", "/apis/apps/v1/namespaces/default/deployments", "create"},
		{"POST", "/apis/apps/v1/namespaces/default/replicasets", ""},
		{"POST", "/apis/apps/v1/deployments", ""},
		{"POST", "/api/v1/namespaces/default/secrets", ""},
		{"POST", "/api/v1/namespaces/default/configmaps", "create"},
		{"POST", "/api/v1/configmaps", ""},
		{"PATCH", "/api/v1/namespaces/default/configmaps/app", "patch"},
		{"PUT", "/api/v1/namespaces/default/configmaps/app", "update"},
		{"DELETE", "/api/v1/namespaces/default/configmaps/app", "delete"},
		{"DELETE", "/api/v1/namespaces/default/configmaps", "deletecollection"},
		{"PATCH", "/api/v1/namespaces/default/configmaps/app/status", ""},
		{"POST", "/api/v1/namespaces/default/services/web", ""},
		{"DELETE", "/api/v1/namespaces/default/services/web", "delete"},
		{"PATCH", "/api/v1/namespaces/default/services/web", "patch"},
		{"PATCH", "/api/v1/namespaces/default/services/web/status", ""},
		{"DELETE", "/apis/apps/v1/namespaces/default/replicasets/web-1", "delete"},
		{"DELETE", "/apis/apps/v1/namespaces/default/statefulsets/web", ""},
		{"PUT", "/apis/apps/v1/namespaces/default/deployments/web", "update"},
		{"PUT", "/api/v1/namespaces/default/services/web", "update"},
		{"PUT", "/api/v1/namespaces/default/pods/web-1", "update"},
		{"PUT", "/apis/apps/v1/namespaces/default/replicasets/web-1", ""},
		{"PUT", "/apis/apps/v1/namespaces/default/deployments", ""},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", "patch"},
		{"PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", "update"},
		{"DELETE", "/apis/apps/v1/namespaces/default/deployments/web/scale", ""},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web/status", ""},
		{"PATCH", "/apis/apps/v1/namespaces/default/replicasets/web/scale", ""},
		{"PATCH", "/apis/apps/v1/namespaces/default/statefulsets/web/scale", ""},
		{"DELETE", "/apis/apps/v1/namespaces/default/deployments/web", "delete"},
		{"DELETE", "/apis/apps/v1/namespaces/default/deployments", "deletecollection"},
		{"DELETE", "/api/v1/namespaces/default/secrets/x", ""},
		{"DELETE", "/api/v1/namespaces/dev", "delete"},
		{"POST", "/api/v1/namespaces", "create"},
		{"PATCH", "/api/v1/namespaces/dev", "patch"},
		{"PUT", "/api/v1/namespaces/dev", "update"},
		{"POST", "/api/v1/namespaces/dev", ""},
		{"DELETE", "/api/v1/namespaces", ""},
		{"PUT", "/api/v1/namespaces/dev/finalize", ""},
		{"PATCH", "/api/v1/namespaces/dev/status", ""},
		{"POST", "/apis/apps/v1/namespaces", ""},
		{"PATCH", "/api/v1/namespaces/default/pods/web-1/ephemeralcontainers", "patch"},
		{"PUT", "/api/v1/namespaces/default/pods/web-1/ephemeralcontainers", "update"},
		{"POST", "/api/v1/namespaces/default/pods/web-1/ephemeralcontainers", ""},
		{"DELETE", "/api/v1/namespaces/default/pods/web-1/ephemeralcontainers", ""},
		{"PATCH", "/api/v1/namespaces/default/services/web/ephemeralcontainers", ""},
	} {
		req, ok := parseAPIPath(tc.path)
		if !ok {
			t.Fatalf("parse %s", tc.path)
		}
		verb, ok := req.writeVerb(tc.method, false)
		if verb != tc.verb || ok != (tc.verb != "") {
			t.Errorf("%s %s: %q %v, want %q", tc.method, tc.path, verb, ok, tc.verb)
		}
	}
}
