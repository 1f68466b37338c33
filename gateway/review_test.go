package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
)

// postReview posts body to the gateway's path as token and returns the
// answer's code and decoded JSON.
func postReview(t *testing.T, gw, token, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h = bearer(token)
	}
	return postReviewWith(t, gw, h, path, contentType, body)
}

// postReviewWith is postReview with the request's header h.
func postReviewWith(t *testing.T, gw string, h http.Header, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw+path, strings.NewReader(body))
	req.Header = h.Clone()
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: answer %q is not JSON: %v", path, b, err)
	}
	return resp.StatusCode, out
}

// field walks decoded JSON by keys.
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// canonical is v (decoded JSON, or JSON text) encoded with sorted keys.
func canonical(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	accessPath = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
	rulesPath  = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
)

func accessBody(attrs string) string {
	return `{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":` + attrs + `}`
}

// TestSelfReviews: kubectl auth whoami, can-i and can-i --list, answered by
// the gateway from its authentication and RBAC when the upstream (a node)
// cannot review.
func TestSelfReviews(t *testing.T) {
	gw := secureGateway(t, startNode(t), nil)

	t.Run("whoami", func(t *testing.T) {
		for _, v := range []string{"v1", "v1beta1", "v1alpha1"} {
			code, out := postReview(t, gw, "admin-token", "/apis/authentication.k8s.io/"+v+"/selfsubjectreviews", "application/json",
				`{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/`+v+`","metadata":{"creationTimestamp":null},"status":{"userInfo":{}}}`)
			ui := field(out, "status", "userInfo")
			groups, _ := json.Marshal(field(ui, "groups"))
			if code != 201 || out["kind"] != "SelfSubjectReview" || out["apiVersion"] != "authentication.k8s.io/"+v ||
				field(ui, "username") != "alice" || field(ui, "uid") != "1" || string(groups) != `["admins","devs","system:authenticated"]` {
				t.Errorf("%s: %d %v", v, code, out)
			}
		}
	})

	t.Run("can-i", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, attrs string
			allowed            bool
		}{
			{"admins exec", "admin-token", `{"resourceAttributes":{"namespace":"default","verb":"create","resource":"pods","subresource":"exec"}}`, true},
			{"admins exec anywhere", "admin-token", `{"resourceAttributes":{"namespace":"prod","verb":"create","resource":"pods","subresource":"exec","name":"web"}}`, true},
			{"admins secrets", "admin-token", `{"resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}}`, false},
			{"reader get exec", "reader-token", `{"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods","subresource":"exec"}}`, true},
			{"reader create exec", "reader-token", `{"resourceAttributes":{"namespace":"default","verb":"create","resource":"pods","subresource":"exec"}}`, false},
			{"reader elsewhere", "reader-token", `{"resourceAttributes":{"namespace":"prod","verb":"get","resource":"pods"}}`, false},
			{"masters anything", "root-token", `{"resourceAttributes":{"namespace":"kube-system","verb":"delete","resource":"secrets"}}`, true},
			{"reader version", "reader-token", `{"nonResourceAttributes":{"path":"/version","verb":"get"}}`, true},
			{"reader discovery", "reader-token", `{"nonResourceAttributes":{"path":"/apis/apps/v1","verb":"get"}}`, true},
			{"reader metrics", "reader-token", `{"nonResourceAttributes":{"path":"/metrics","verb":"get"}}`, false},
			{"reader post version", "reader-token", `{"nonResourceAttributes":{"path":"/version","verb":"post"}}`, false},
			{"masters metrics", "root-token", `{"nonResourceAttributes":{"path":"/metrics","verb":"get"}}`, true},
		} {
			code, out := postReview(t, gw, tc.token, accessPath, "application/json", accessBody(tc.attrs))
			if code != 201 || out["kind"] != "SelfSubjectAccessReview" || field(out, "status", "allowed") != tc.allowed || canonical(t, out["spec"]) != canonical(t, tc.attrs) {
				t.Errorf("%s: %d %v, want allowed %v and the spec echoed", tc.name, code, out, tc.allowed)
			}
		}
	})

	t.Run("can-i --list", func(t *testing.T) {
		rules := func(token, ns string) string {
			code, out := postReview(t, gw, token, rulesPath, "application/json",
				`{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","spec":{"namespace":"`+ns+`"}}`)
			if code != 201 || out["kind"] != "SelfSubjectRulesReview" || field(out, "status", "incomplete") != false {
				t.Errorf("%s in %s: %d %v", token, ns, code, out)
			}
			return canonical(t, field(out, "status", "resourceRules"))
		}
		self := `{"verbs":["create"],"apiGroups":["authorization.k8s.io"],"resources":["selfsubjectaccessreviews","selfsubjectrulesreviews"]},` +
			`{"verbs":["create"],"apiGroups":["authentication.k8s.io"],"resources":["selfsubjectreviews"]}`
		for _, tc := range []struct{ token, ns, want string }{
			{"reader-token", "default", "[" + self + `,{"verbs":["get"],"apiGroups":[""],"resources":["pods","pods/exec"]}]`},
			{"reader-token", "prod", "[" + self + "]"},
			{"admin-token", "prod", "[" + self + `,{"verbs":["get","list","create"],"apiGroups":[""],"resources":["pods","pods/exec","pods/attach","pods/portforward"]},` +
				`{"verbs":["get","list"],"apiGroups":[""],"resources":["namespaces"]},` +
				`{"verbs":["impersonate"],"apiGroups":[""],"resources":["users"],"resourceNames":["bob"]},` +
				`{"verbs":["impersonate"],"apiGroups":[""],"resources":["groups"],"resourceNames":["readers"]},` +
				`{"verbs":["impersonate"],"apiGroups":[""],"resources":["serviceaccounts"]}]`},
			{"root-token", "prod", "[" + self + `,{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}]`},
		} {
			if got := rules(tc.token, tc.ns); got != canonical(t, tc.want) {
				t.Errorf("%s in %s:\n got %s\nwant %s", tc.token, tc.ns, got, tc.want)
			}
		}
	})

	t.Run("protobuf", func(t *testing.T) {
		// kubectl 1.32 and later send protobuf and accept JSON back.
		ssar, err := os.ReadFile(filepath.Join("testdata", "kubectl-1.33-selfsubjectaccessreviews.pb"))
		if err != nil {
			t.Fatal(err)
		}
		for _, token := range []string{"admin-token", "reader-token"} {
			code, out := postReview(t, gw, token, accessPath, "application/vnd.kubernetes.protobuf", string(ssar))
			want := `{"resourceAttributes":{"namespace":"default","verb":"create","resource":"pods","subresource":"exec","name":"x"}}`
			if code != 201 || canonical(t, out["spec"]) != canonical(t, want) || field(out, "status", "allowed") != (token == "admin-token") {
				t.Errorf("as %s: %d %v", token, code, out)
			}
		}
		// A client that takes protobuf only is told so.
		req, _ := http.NewRequest(http.MethodPost, gw+accessPath, strings.NewReader(string(ssar)))
		req.Header = bearer("admin-token")
		req.Header.Set("Content-Type", "application/vnd.kubernetes.protobuf")
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotAcceptable {
			t.Errorf("protobuf only: got %d, want 406", resp.StatusCode)
		}
		body, err := os.ReadFile(filepath.Join("testdata", "kubectl-1.33-selfsubjectreviews-v1.pb"))
		if err != nil {
			t.Fatal(err)
		}
		code, out := postReview(t, gw, "reader-token", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/vnd.kubernetes.protobuf", string(body))
		if code != 201 || field(out, "status", "userInfo", "username") != "bob" {
			t.Errorf("whoami: %d %v", code, out)
		}
		code, out = postReview(t, gw, "reader-token", accessPath, "application/vnd.kubernetes.protobuf", "k8s\x00\x0a\x10ab")
		if code != 400 || out["reason"] != "BadRequest" {
			t.Errorf("truncated protobuf: %d %v", code, out)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, path, ct, body, reason string
			code                                int
		}{
			{"no credentials", "", accessPath, "application/json", accessBody(`{}`), "Unauthorized", 401},
			{"neither attributes", "admin-token", accessPath, "application/json", accessBody(`{}`), "Invalid", 422},
			{"both attributes", "admin-token", accessPath, "application/json",
				accessBody(`{"resourceAttributes":{"verb":"get"},"nonResourceAttributes":{"path":"/","verb":"get"}}`), "Invalid", 422},
			{"no namespace", "admin-token", rulesPath, "application/json", `{"spec":{}}`, "Invalid", 422},
			{"wrong kind", "admin-token", accessPath, "application/json", `{"kind":"SelfSubjectRulesReview","spec":{"namespace":"x"}}`, "BadRequest", 400},
			{"not JSON", "admin-token", accessPath, "application/json", `{"spec":`, "BadRequest", 400},
			{"YAML", "admin-token", accessPath, "application/yaml", "spec: {}", "UnsupportedMediaType", 415},
			{"too big", "admin-token", accessPath, "application/json", `{"spec":{},"pad":"` + strings.Repeat("x", 70<<10) + `"}`, "RequestEntityTooLarge", 413},
		} {
			code, out := postReview(t, gw, tc.token, tc.path, tc.ct, tc.body)
			if code != tc.code || out["kind"] != "Status" || out["reason"] != tc.reason {
				t.Errorf("%s: %d %v, want %d %s", tc.name, code, out, tc.code, tc.reason)
			}
		}
	})
}

// TestSelfReviewsAnonymous: an anonymous caller may ask only what RBAC
// lets it create, as the API server binds system:basic-user to
// authenticated callers only.
func TestSelfReviewsAnonymous(t *testing.T) {
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: whoami}
rules: [{apiGroups: [authentication.k8s.io], resources: [selfsubjectreviews], verbs: [create]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: anonymous-whoami}
subjects: [{kind: Group, name: "system:unauthenticated"}]
roleRef: {kind: ClusterRole, name: whoami}
`)); err != nil {
		t.Fatal(err)
	}
	gw, _ := startGateway(t, startNode(t), &gateway.Options{AllowAnonymous: true, Authorizer: rbac})
	code, out := postReview(t, gw, "", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json", `{}`)
	if code != 201 || field(out, "status", "userInfo", "username") != "system:anonymous" {
		t.Errorf("whoami: %d %v", code, out)
	}
	code, out = postReview(t, gw, "", accessPath, "application/json", accessBody(`{"resourceAttributes":{"verb":"get","resource":"pods"}}`))
	if code != 403 || out["reason"] != "Forbidden" {
		t.Errorf("can-i: %d %v, want 403", code, out)
	}
}

// TestSelfReviewsUpstream: where the gateway allows, an upstream that
// reviews has the last word, asked as the impersonated caller; where the
// gateway denies, it is not asked.
func TestSelfReviewsUpstream(t *testing.T) {
	var (
		mu    sync.Mutex
		asked []string
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "reviews") {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		asked = append(asked, r.URL.Path+" as "+r.Header.Get("Impersonate-User"))
		mu.Unlock()
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		in["kind"] = "SelfSubjectAccessReview"
		in["status"] = map[string]any{"allowed": field(in, "spec", "resourceAttributes", "resource") != "secrets", "reason": "upstream says so"}
		if strings.HasSuffix(r.URL.Path, "/selfsubjectrulesreviews") {
			in["kind"] = "SelfSubjectRulesReview"
			in["status"] = map[string]any{"resourceRules": []any{map[string]any{"verbs": []string{"upstream"}}}, "nonResourceRules": []any{}, "incomplete": false}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(in)
	}))
	t.Cleanup(up.Close)
	gw := secureGateway(t, up.URL, &gateway.Options{Impersonate: true})

	for _, tc := range []struct {
		name, token, attrs string
		allowed            bool
		reason, asked      string
	}{
		{"both allow", "admin-token", `{"resourceAttributes":{"namespace":"default","verb":"create","resource":"pods","subresource":"exec"}}`, true, "upstream says so", accessPath + " as alice"},
		{"upstream denies", "root-token", `{"resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}}`, false, "upstream says so", accessPath + " as carol"},
		{"gateway denies", "reader-token", `{"resourceAttributes":{"namespace":"default","verb":"create","resource":"pods","subresource":"exec"}}`, false, "", ""},
	} {
		mu.Lock()
		asked = nil
		mu.Unlock()
		code, out := postReview(t, gw, tc.token, accessPath, "application/json", accessBody(tc.attrs))
		reason, _ := field(out, "status", "reason").(string)
		if code != 201 || field(out, "status", "allowed") != tc.allowed || reason != tc.reason {
			t.Errorf("%s: %d %v, want allowed %v, reason %q", tc.name, code, out, tc.allowed, tc.reason)
		}
		var want []string
		if tc.asked != "" {
			want = []string{tc.asked}
		}
		mu.Lock()
		if !slices.Equal(asked, want) {
			t.Errorf("%s: upstream asked %q, want %q", tc.name, asked, want)
		}
		mu.Unlock()
	}

	// The rules: masters' come from the upstream; an RBAC user's are the
	// gateway's, marked incomplete because the upstream authorizes too.
	_, out := postReview(t, gw, "root-token", rulesPath, "application/json", `{"spec":{"namespace":"default"}}`)
	if b, _ := json.Marshal(field(out, "status", "resourceRules")); string(b) != `[{"verbs":["upstream"]}]` {
		t.Errorf("masters' rules %s, want the upstream's", b)
	}
	_, out = postReview(t, gw, "reader-token", rulesPath, "application/json", `{"spec":{"namespace":"default"}}`)
	if field(out, "status", "incomplete") != true || !strings.Contains(field(out, "status", "evaluationError").(string), "upstream") {
		t.Errorf("reader's rules %v, want incomplete naming the upstream", out)
	}
}

// TestSelfReviewsUpstreamFails: an upstream that fails to answer (5xx)
// leaves no yes where the gateway alone would say one, and marks the
// rules incomplete; one that cannot review (4xx) leaves the gateway's
// answer.
func TestSelfReviewsUpstreamFails(t *testing.T) {
	for _, tc := range []struct {
		code    int
		allowed bool
		errText string
	}{
		{http.StatusInternalServerError, false, "500 Internal Server Error"},
		{http.StatusNotFound, true, ""},
	} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", tc.code)
		}))
		t.Cleanup(up.Close)
		gw := secureGateway(t, up.URL, nil)
		_, out := postReview(t, gw, "admin-token", accessPath, "application/json",
			accessBody(`{"resourceAttributes":{"namespace":"default","verb":"create","resource":"pods","subresource":"exec"}}`))
		evalErr, _ := field(out, "status", "evaluationError").(string)
		if field(out, "status", "allowed") != tc.allowed || !strings.Contains(evalErr, tc.errText) || (tc.errText == "") != (evalErr == "") {
			t.Errorf("upstream %d, can-i: %v", tc.code, out)
		}
		for _, token := range []string{"admin-token", "root-token"} {
			_, out = postReview(t, gw, token, rulesPath, "application/json", `{"spec":{"namespace":"default"}}`)
			if incomplete := field(out, "status", "incomplete") == true; incomplete != (tc.errText != "") {
				t.Errorf("upstream %d, %s's rules: %v", tc.code, token, out)
			}
		}
	}
}
