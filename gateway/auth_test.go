package gateway_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

const tokensCSV = `# token,user,uid,groups
admin-token,alice,1,"admins,devs"
reader-token,bob,2,readers
root-token,carol,3,"ops,system:masters"
`

const rbacYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: exec}
rules:
- apiGroups: [""]
  resources: [pods, pods/exec, pods/attach, pods/portforward]
  verbs: [get, list, create]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins-exec}
subjects: [{kind: Group, name: admins}]
roleRef: {kind: ClusterRole, name: exec}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate-readers}
rules:
- {apiGroups: [""], resources: [users], verbs: [impersonate], resourceNames: [bob]}
- {apiGroups: [""], resources: [groups], verbs: [impersonate], resourceNames: [readers]}
- {apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins-impersonate}
subjects: [{kind: Group, name: admins}]
roleRef: {kind: ClusterRole, name: impersonate-readers}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: get-only, namespace: default}
rules:
- apiGroups: [""]
  resources: [pods, pods/exec]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: default}
subjects: [{kind: User, name: bob}]
roleRef: {kind: Role, name: get-only}
`

func secureGateway(t *testing.T, upstream string, opts *gateway.Options) string {
	t.Helper()
	tokens, err := gateway.ParseTokens(strings.NewReader(tokensCSV))
	if err != nil {
		t.Fatal(err)
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(rbacYAML)); err != nil {
		t.Fatal(err)
	}
	o := gateway.Options{}
	if opts != nil {
		o = *opts
	}
	o.Tokens, o.Authorizer = tokens, rbac
	gw, _ := startGateway(t, upstream, &o)
	return gw
}

func TestAuthentication(t *testing.T) {
	node := startNode(t)
	var log syncBuffer
	gw := secureGateway(t, node, &gateway.Options{Audit: audit.NewJSONLog(&log)})
	u := execURL(gw, []string{"echo", "hi"}, "stdout")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("no credentials", func(t *testing.T) {
		_, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: protocol.SPDYClientOffer})
		var ue *stream.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != 401 || ue.Message != "Unauthorized" {
			t.Fatalf("got %v, want 401 Unauthorized", err)
		}
		evs := log.events(t)
		if len(evs) != 1 || evs[0].Stage != audit.StageDenied || evs[0].Code != 401 || evs[0].Verb != "exec" || evs[0].Pod != "p" ||
			!strings.Contains(evs[0].Reason, "no credentials") {
			t.Errorf("audit %+v, want one denial with code 401", evs)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		_, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: bearer("nope")})
		var ue *stream.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != 401 {
			t.Fatalf("got %v, want 401", err)
		}
	})
	t.Run("bearer header", func(t *testing.T) {
		out, _, st := wsExec(t, u, bearer("admin-token"), nil)
		if string(out) != "hi\n" || !contains(st, `"Success"`) {
			t.Fatalf("got %q %s", out, st)
		}
	})
	t.Run("subprotocol token", func(t *testing.T) {
		// A browser offers the token as a subprotocol; the gateway strips it,
		// so the upstream negotiates v5 and never sees the token.
		tok := gateway.BearerProtocolPrefix + base64.RawURLEncoding.EncodeToString([]byte("admin-token"))
		v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
		conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Versions: []protocol.Version{{Name: tok}, v5}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != protocol.V5 {
			t.Errorf("negotiated %q", got)
		}
	})
	t.Run("subprotocol token is not forwarded", func(t *testing.T) {
		up := newScriptedUpstream(t, "HTTP/1.1 403 Forbidden\r\n\r\n", false)
		gw2 := secureGateway(t, up.URL(), nil)
		tok := gateway.BearerProtocolPrefix + base64.RawURLEncoding.EncodeToString([]byte("admin-token"))
		if _, code := rawUpgrade(t, gw2, execURL(gw2, []string{"true"}, "stdout"), tok+", "+protocol.V5); code != 403 {
			t.Fatalf("got %d, want the upstream's 403", code)
		}
		reqs, _ := up.requests()
		if len(reqs) != 1 {
			t.Fatalf("upstream got %d requests", len(reqs))
		}
		if got := reqs[0].Header.Values("Sec-WebSocket-Protocol"); len(got) != 1 || got[0] != protocol.V5 || reqs[0].Header.Get("Authorization") != "" {
			t.Errorf("upstream saw protocols %q and Authorization %q", got, reqs[0].Header.Get("Authorization"))
		}
	})
	t.Run("subprotocol token alone", func(t *testing.T) {
		tok := gateway.BearerProtocolPrefix + base64.RawURLEncoding.EncodeToString([]byte("admin-token"))
		_, status := rawUpgrade(t, gw, u, tok)
		if status != 401 {
			t.Fatalf("got %d, want 401 (missing additional subprotocol)", status)
		}
	})
}

func TestAuthorization(t *testing.T) {
	node := startNode(t)
	gw := secureGateway(t, node, &gateway.Options{UpstreamWire: protocol.SPDY})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := execURL(gw, []string{"echo", "hi"}, "stdout")
	// bob holds only get on pods/exec: a WebSocket GET needs create too.
	_, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: bearer("reader-token")})
	var ue *stream.UpgradeError
	want := `pods \"p\" is forbidden: User \"bob\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\"`
	if !errors.As(err, &ue) || ue.StatusCode != 403 || !strings.Contains(string(ue.Body), want) {
		t.Fatalf("websocket exec with get only: got %v, want 403 naming create pods/exec", err)
	}
	_, _, err = spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: protocol.SPDYClientOffer, Header: bearer("reader-token")})
	var se *stream.UpgradeError
	if !errors.As(err, &se) || se.StatusCode != 403 {
		t.Fatalf("spdy exec with get only: got %v, want 403", err)
	}
	// bob may read the pod; the gateway proxies the read (the bare node has
	// no pod API, so the upstream's 404 is what comes back, not a 403).
	req, _ := http.NewRequestWithContext(ctx, "GET", gw+"/api/v1/namespaces/default/pods/p", nil)
	req.Header = bearer("reader-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 403 || resp.StatusCode == 401 {
		t.Errorf("pod get: got %d", resp.StatusCode)
	}
	req, _ = http.NewRequestWithContext(ctx, "GET", gw+"/api/v1/namespaces/other/pods", nil)
	req.Header = bearer("reader-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("pod list elsewhere: got %d, want 403", resp.StatusCode)
	}
	// Namespaces are cluster-scoped: bob's namespaced role does not cover
	// them; the admin's cluster-wide grant does (the upstream answers).
	for _, tc := range []struct {
		token, path string
		forbidden   bool
	}{
		{"reader-token", "/api/v1/namespaces", true},
		{"reader-token", "/api/v1/namespaces/default", true},
		{"admin-token", "/api/v1/namespaces", false},
		{"admin-token", "/api/v1/namespaces/default", false},
	} {
		req, _ = http.NewRequestWithContext(ctx, "GET", gw+tc.path, nil)
		req.Header = bearer(tc.token)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == 403; got != tc.forbidden || resp.StatusCode == 401 {
			t.Errorf("%s by %s: got %d, want forbidden=%v", tc.path, tc.token, resp.StatusCode, tc.forbidden)
		}
	}
	out, _, st := wsExec(t, u, bearer("admin-token"), nil)
	if string(out) != "hi\n" || !contains(st, `"Success"`) {
		t.Fatalf("admin: got %q %s", out, st)
	}
}

// TestPrivilegedGroup: system:masters may do everything whatever RBAC says,
// as kube-apiserver's first authorizer allows it; carol is in no binding.
func TestPrivilegedGroup(t *testing.T) {
	node := startNode(t)
	gw := secureGateway(t, node, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _, st := wsExec(t, execURL(gw, []string{"echo", "hi"}, "stdout"), bearer("root-token"), nil)
	if string(out) != "hi\n" || !contains(st, `"Success"`) {
		t.Fatalf("exec by system:masters: got %q %s", out, st)
	}
	for _, path := range []string{"/api/v1/namespaces", "/api/v1/namespaces/other/pods", "/apis/apps/v1/deployments"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", gw+path, nil)
		req.Header = bearer("root-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 403 || resp.StatusCode == 401 {
			t.Errorf("%s by system:masters: got %d", path, resp.StatusCode)
		}
	}
}

// rawUpgrade sends a WebSocket upgrade offering protocols and returns the
// status line's code.
func rawUpgrade(t *testing.T, gw, u, protocols string) (string, int) {
	t.Helper()
	path := strings.TrimPrefix(u, gw)
	raw := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: " + protocols + "\r\n\r\n"
	got, _ := rawRoundTrip(t, gw, raw, false)
	var code int
	if len(got) > 12 {
		for _, c := range got[9:12] {
			code = code*10 + int(c-'0')
		}
	}
	return got, code
}
