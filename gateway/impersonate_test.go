package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

// as is a bearer token header impersonating user and groups (kubectl
// --as, --as-group).
func as(token, user string, groups ...string) http.Header {
	h := bearer(token)
	if user != "" {
		h.Set("Impersonate-User", user)
	}
	for _, g := range groups {
		h.Add("Impersonate-Group", g)
	}
	return h
}

// whoami asks the gateway who the caller is, with header h.
func whoami(t *testing.T, gw string, h http.Header) (int, string, []string, map[string]any) {
	t.Helper()
	code, out := postReviewWith(t, gw, h, "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json", `{}`)
	var groups []string
	gs, _ := field(out, "status", "userInfo", "groups").([]any)
	for _, g := range gs {
		groups = append(groups, g.(string))
	}
	name, _ := field(out, "status", "userInfo", "username").(string)
	return code, name, groups, out
}

// TestImpersonation: Impersonate-User and Impersonate-Group (kubectl --as,
// --as-group) work as in the API server: the caller must hold impersonate
// on each, and the request then runs, is authorized and is audited as the
// user named.
func TestImpersonation(t *testing.T) {
	var log syncBuffer
	gw := secureGateway(t, startNode(t), &gateway.Options{Audit: audit.NewJSONLog(&log)})

	for _, tc := range []struct {
		name   string
		h      http.Header
		code   int
		user   string
		groups []string
		msg    string
	}{
		{"as bob", as("admin-token", "bob"), 201, "bob", []string{"system:authenticated"}, ""},
		{"as bob in readers", as("admin-token", "bob", "readers"), 201, "bob", []string{"readers", "system:authenticated"}, ""},
		{"as a service account", as("admin-token", "system:serviceaccount:dev:robot"), 201, "system:serviceaccount:dev:robot",
			[]string{"system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated"}, ""},
		{"as carol", as("admin-token", "carol"), 403, "", nil,
			`users \"carol\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope`},
		{"as bob in admins", as("admin-token", "bob", "admins"), 403, "", nil,
			`groups \"admins\" is forbidden: User \"alice\" cannot impersonate resource \"groups\"`},
		{"bob as alice", as("reader-token", "alice"), 403, "", nil, `User \"bob\" cannot impersonate resource \"users\"`},
		{"masters as anyone", as("root-token", "dave", "system:masters"), 201, "dave", []string{"system:masters", "system:authenticated"}, ""},
		{"group without user", as("admin-token", "", "readers"), 400, "", nil, "without impersonating a user"},
	} {
		code, name, groups, out := whoami(t, gw, tc.h)
		raw, _ := json.Marshal(out)
		if code != tc.code || name != tc.user || !slices.Equal(groups, tc.groups) || !strings.Contains(string(raw), tc.msg) {
			t.Errorf("%s: %d %s %q: %s", tc.name, code, name, groups, raw)
		}
	}
	many := as("root-token", "bob")
	for i := range 65 {
		many.Add("Impersonate-Group", fmt.Sprint("g", i))
	}
	if code, _, _, out := whoami(t, gw, many); code != 400 {
		t.Errorf("65 groups: %d %v, want 400", code, out)
	}
	h := bearer("admin-token")
	h.Set("Impersonate-Extra-Scopes", "view")
	h.Set("Impersonate-User", "bob")
	if code, _, _, _ := whoami(t, gw, h); code != 400 {
		t.Errorf("extras: got %d, want 400", code)
	}

	// As bob, alice's exec is refused in bob's name (bob holds get only);
	// carol's, as alice in admins, runs and is audited as alice,
	// impersonated by carol.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := execURL(gw, []string{"echo", "hi"}, "stdout")
	_, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: as("admin-token", "bob")})
	var ue *stream.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != 403 || !strings.Contains(string(ue.Body), `User \"bob\" cannot create resource \"pods/exec\"`) {
		t.Fatalf("exec as bob: got %v, want bob's 403", err)
	}
	// Impersonation names the groups too: alice's own (admins) are not
	// looked up, as the API server does not.
	// A refused impersonation is audited in the caller's name.
	_, _, err = websocket.Dial(ctx, u, &websocket.DialOptions{Header: as("admin-token", "carol")})
	if !errors.As(err, &ue) || ue.StatusCode != 403 {
		t.Fatalf("exec as carol: got %v, want 403", err)
	}
	out, _, st := wsExec(t, u, as("root-token", "alice", "admins"), nil)
	if string(out) != "hi\n" || !contains(st, `"Success"`) {
		t.Fatalf("exec as alice: %q %s", out, st)
	}
	evs := log.events(t)
	denied := false
	for _, e := range evs {
		if e.Stage == audit.StageDenied && e.User == "alice" && strings.Contains(e.Reason, `cannot impersonate resource "users"`) {
			denied = true
		}
	}
	if !denied {
		t.Errorf("audit %+v, want alice's refused impersonation of carol", evs)
	}
	found := false
	for _, e := range evs {
		if e.Stage == audit.StageStart && e.User == "alice" {
			found = true
			if e.ImpersonatedBy != "carol" {
				t.Errorf("audit %+v, want impersonatedBy carol", e)
			}
		}
	}
	if !found {
		t.Errorf("audit %+v, want alice's session", evs)
	}
}

// TestImpersonationUpstream: without RBAC of its own, the gateway lets a
// caller impersonate whom the upstream allows it to, asked as the caller;
// the gateway then impersonates that user upstream.
func TestImpersonationUpstream(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/selfsubjectaccessreviews") {
			http.NotFound(w, r)
			return
		}
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		ra := field(in, "spec", "resourceAttributes")
		in["status"] = map[string]any{"allowed": r.Header.Get("Impersonate-User") == "alice" &&
			field(ra, "verb") == "impersonate" && field(ra, "resource") == "users" && field(ra, "name") == "bob"}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(in)
	}))
	t.Cleanup(up.Close)
	tokens, err := gateway.ParseTokens(strings.NewReader(tokensCSV))
	if err != nil {
		t.Fatal(err)
	}
	gw, _ := startGateway(t, up.URL, &gateway.Options{Tokens: tokens, Impersonate: true})
	if code, name, _, _ := whoami(t, gw, as("admin-token", "bob")); code != 201 || name != "bob" {
		t.Errorf("alice as bob: %d %s, want bob", code, name)
	}
	if code, _, _, out := whoami(t, gw, as("admin-token", "carol")); code != 403 {
		t.Errorf("alice as carol: %d %v, want 403", code, out)
	}
	if code, _, _, out := whoami(t, gw, as("reader-token", "bob")); code != 403 {
		t.Errorf("bob as bob: %d %v, want 403 (the upstream allows alice only)", code, out)
	}
}

// TestImpersonationSessionLimit: sessions count against the impersonator,
// so impersonating many users does not multiply one caller's share.
func TestImpersonationSessionLimit(t *testing.T) {
	gw := secureGateway(t, startNode(t), &gateway.Options{MaxSessionsPerUser: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, _, err := websocket.Dial(ctx, execURL(gw, []string{"cat"}, "stdin", "stdout"), &websocket.DialOptions{Header: as("root-token", "alice", "admins")})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, _, err = websocket.Dial(ctx, execURL(gw, []string{"true"}, "stdout"), &websocket.DialOptions{Header: as("root-token", "dave", "admins")})
	var ue *stream.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != 429 || !strings.Contains(string(ue.Body), "user carol has reached the limit") {
		t.Fatalf("carol's second session, as dave: got %v, want 429 naming carol", err)
	}
	// alice's own share is hers.
	if out, _, st := wsExec(t, execURL(gw, []string{"echo", "mine"}, "stdout"), bearer("admin-token"), nil); string(out) != "mine\n" {
		t.Fatalf("alice's own session: %q %s", out, st)
	}
}

// TestImpersonationChecksBounded: without RBAC, each impersonated group is
// a review asked upstream; together they get one budget, so an upstream
// that answers slowly cannot hold a request for a review timeout per group.
func TestImpersonationChecksBounded(t *testing.T) {
	defer gateway.SetImpersonationTimeout(500 * time.Millisecond)()
	var reviews atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/selfsubjectaccessreviews") {
			http.NotFound(w, r)
			return
		}
		reviews.Add(1)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		fmt.Fprint(w, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","status":{"allowed":true}}`)
	}))
	t.Cleanup(up.Close)
	tokens, err := gateway.ParseTokens(strings.NewReader(tokensCSV))
	if err != nil {
		t.Fatal(err)
	}
	gw, _ := startGateway(t, up.URL, &gateway.Options{Tokens: tokens, Impersonate: true})
	groups := make([]string, 64)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i)
	}
	code, _, _, out := whoami(t, gw, as("admin-token", "bob", groups...))
	msg, _ := out["message"].(string)
	if code != 403 || !strings.Contains(msg, "the checks of this impersonation took longer than 500ms") {
		t.Fatalf("bob with 64 groups: %d %v, want 403 naming the budget", code, out)
	}
	if n := reviews.Load(); n >= 65 {
		t.Errorf("%d reviews asked upstream: the budget did not stop them", n)
	}
}
