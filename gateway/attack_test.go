package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol"
)

// recordingUpstream answers every request 200 "{}" and records the
// request line and headers it saw.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.seen...)
}

func (u *recordingUpstream) reset() {
	u.mu.Lock()
	u.seen = nil
	u.mu.Unlock()
}

// rawGet sends one request with the target written as is (no client-side
// cleaning or escaping) and returns the status code.
func rawGet(t *testing.T, gw, target string, header string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + header + "\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const appsRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deploy-reader, namespace: dev}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: carol-deploys, namespace: dev}
subjects: [{kind: User, name: carol}]
roleRef: {kind: Role, name: deploy-reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: log-reader, namespace: dev}
rules:
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: carol-logs, namespace: dev}
subjects: [{kind: User, name: carol}]
roleRef: {kind: Role, name: log-reader}
`

// TestReadsAreAuthorized: every read the gateway forwards is authorized
// with the caller's RBAC for exactly the group, resource, namespace and
// name it names; resources kubectl does not read around streaming, and
// paths whose escaped or dot segments could differ upstream, are refused
// before anything reaches the upstream.
func TestReadsAreAuthorized(t *testing.T) {
	up := newRecordingUpstream(t)
	tokens, err := gateway.ParseTokens(strings.NewReader("nobody-token,nobody,9\ncarol-token,carol,10\n"))
	if err != nil {
		t.Fatal(err)
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(appsRBAC)); err != nil {
		t.Fatal(err)
	}
	gw, _ := startGateway(t, up.URL, &gateway.Options{Tokens: tokens, Authorizer: rbac})
	for _, tc := range []struct {
		name, token, target string
		code                int
		forwarded           string // the path the upstream must see; "" none
	}{
		{"discovery", "nobody-token", "/apis", 200, "/apis"},
		{"group discovery", "nobody-token", "/apis/apps/v1", 200, "/apis/apps/v1"},
		// The official Python client's discovery paths end in a slash.
		{"version with a slash", "nobody-token", "/version/", 200, "/version/"},
		{"core versions with a slash", "nobody-token", "/api/", 200, "/api/"},
		{"core resources with a slash", "nobody-token", "/api/v1/", 200, "/api/v1/"},
		{"version below", "nobody-token", "/version/x", 404, ""},
		{"openapi v3", "nobody-token", "/openapi/v3", 200, "/openapi/v3"},
		{"openapi v3 document", "nobody-token", "/openapi/v3/apis/apps/v1?hash=0A1B", 200, "/openapi/v3/apis/apps/v1"},
		{"openapi v2", "nobody-token", "/openapi/v2", 200, "/openapi/v2"},
		{"openapi dot segments", "nobody-token", "/openapi/v3/../../api/v1/namespaces/kube-system/secrets", 400, ""},
		{"openapi encoded slashes", "nobody-token", "/openapi/v3/..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fkube-system%2Fsecrets", 400, ""},
		{"deployments without grant", "nobody-token", "/apis/apps/v1/namespaces/kube-system/deployments", 403, ""},
		{"deployment in granted namespace", "carol-token", "/apis/apps/v1/namespaces/dev/deployments/web", 200,
			"/apis/apps/v1/namespaces/dev/deployments/web"},
		{"list not granted", "carol-token", "/apis/apps/v1/namespaces/dev/deployments", 403, ""},
		{"other namespace", "carol-token", "/apis/apps/v1/namespaces/kube-system/deployments/web", 403, ""},
		{"same resource, other group", "carol-token", "/apis/extensions/v1beta1/namespaces/dev/deployments/web", 404, ""},
		{"cluster role bindings", "carol-token", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", 404, ""},
		{"secrets", "carol-token", "/api/v1/namespaces/dev/secrets", 404, ""},
		{"pod proxy", "carol-token", "/api/v1/namespaces/dev/pods/web/proxy", 404, ""},
		{"pod log granted", "carol-token", "/api/v1/namespaces/dev/pods/web/log?follow=true", 200, "/api/v1/namespaces/dev/pods/web/log"},
		{"pod log without grant", "nobody-token", "/api/v1/namespaces/dev/pods/web/log", 403, ""},
		{"pod log, other namespace", "carol-token", "/api/v1/namespaces/kube-system/pods/web/log", 403, ""},
		{"encoded slashes to secrets", "carol-token", "/apis/apps/v1/namespaces/dev/deployments/..%2F..%2F..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fkube-system%2Fsecrets", 400, ""},
		{"encoded slashes after apis", "carol-token", "/apis/..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fkube-system%2Fsecrets", 400, ""},
		{"dot segments", "carol-token", "/apis/apps/v1/namespaces/dev/deployments/web/../../../../../api/v1/namespaces/kube-system/secrets", 400, ""},
		{"encoded dots", "carol-token", "/apis/apps/v1/namespaces/dev/deployments/%2e%2e/x", 400, ""},
		{"empty segment", "carol-token", "/apis/apps/v1/namespaces//deployments/web", 400, ""},
		{"deprecated watch prefix", "carol-token", "/api/v1/watch/namespaces/dev/pods", 404, ""},
		{"events for describe", "carol-token", "/api/v1/namespaces/dev/events?fieldSelector=involvedObject.name%3Dweb", 200, "/api/v1/namespaces/dev/events"},
		{"events.k8s.io events", "carol-token", "/apis/events.k8s.io/v1/namespaces/dev/events", 200, "/apis/events.k8s.io/v1/namespaces/dev/events"},
		{"events, other namespace", "carol-token", "/api/v1/namespaces/kube-system/events", 403, ""},
		{"events without grant", "nobody-token", "/api/v1/namespaces/dev/events", 403, ""},
		// kubectl apply --prune lists these by default: forwarded when RBAC
		// allows, refused by RBAC here; RBAC objects never.
		{"cron jobs without grant", "carol-token", "/apis/batch/v1/namespaces/dev/cronjobs?labelSelector=set%3Da", 403, ""},
		{"ingresses without grant", "carol-token", "/apis/networking.k8s.io/v1/namespaces/dev/ingresses", 403, ""},
		{"claims without grant", "carol-token", "/api/v1/namespaces/dev/persistentvolumeclaims", 403, ""},
		{"volumes without grant", "carol-token", "/api/v1/persistentvolumes", 403, ""},
		{"roles", "carol-token", "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/roles", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up.reset()
			code := rawGet(t, gw, tc.target, "Authorization: Bearer "+tc.token+"\r\n")
			if code != tc.code {
				t.Errorf("GET %s: %d, want %d", tc.target, code, tc.code)
			}
			seen := up.requests()
			switch {
			case tc.forwarded == "" && len(seen) > 0:
				t.Errorf("upstream saw %s", seen[0].URL.RequestURI())
			case tc.forwarded != "" && (len(seen) != 1 || seen[0].URL.EscapedPath() != tc.forwarded):
				t.Errorf("upstream saw %d requests %v, want exactly %s", len(seen), seen, tc.forwarded)
			}
		})
	}
}

// TestEncodedPodNameIsRefused: a pod name holding an encoded path is
// refused before authorization, for every streaming subresource and
// method, and nothing reaches the upstream.
func TestEncodedPodNameIsRefused(t *testing.T) {
	up := newRecordingUpstream(t)
	gw, _ := startGateway(t, up.URL, nil)
	for _, verb := range []string{"exec", "attach", "portforward"} {
		for _, method := range []string{"GET", "POST"} {
			target := "/api/v1/namespaces/dev/pods/x%2F..%2F..%2F..%2Fkube-system%2Fpods%2Fvictim/" + verb + "?command=id&stdout=1"
			c, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
				"X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s %s: %d, want 400", method, verb, resp.StatusCode)
			}
		}
	}
	if seen := up.requests(); len(seen) > 0 {
		t.Errorf("upstream saw %s", seen[0].URL.RequestURI())
	}
}

// TestHostAllowList: without authentication only loopback Host names are
// served (a DNS-rebinding page sends its own name), and the Origin is
// checked against the accepted hosts, not against the Host header the page
// controls. With authentication, or an explicit list, other hosts work.
func TestHostAllowList(t *testing.T) {
	up := newRecordingUpstream(t)
	anon, _ := startGateway(t, up.URL, nil)
	listed, _ := startGateway(t, up.URL, &gateway.Options{AcceptHosts: []string{"dev.example", "*.corp.example"}})
	tokens, err := gateway.ParseTokens(strings.NewReader("tok,alice,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	authed, _ := startGateway(t, up.URL, &gateway.Options{Tokens: tokens})
	ws := "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n"
	exec := "/api/v1/namespaces/default/pods/p/exec?command=id&stdout=1"
	for _, tc := range []struct {
		name, gw, target, head string
		forwarded              bool // else refused with 403
	}{
		{"rebinding host", anon, "/version", "Host: attacker.example:7443\r\n", false},
		{"rebinding exec", anon, exec, "Host: attacker.example:7443\r\nOrigin: http://attacker.example:7443\r\n" + ws, false},
		{"rebinding web page", anon, "/", "Host: attacker.example\r\n", false},
		{"localhost", anon, "/version", "Host: localhost:7443\r\n", true},
		{"ipv6 loopback", anon, "/version", "Host: [::1]:7443\r\n", true},
		{"same-origin page", anon, exec, "Host: 127.0.0.1:7443\r\nOrigin: http://127.0.0.1:7443\r\n" + ws, true},
		{"another local origin", anon, exec, "Host: 127.0.0.1:7443\r\nOrigin: http://127.0.0.1:3000\r\n" + ws, false},
		{"another loopback name", anon, exec, "Host: 127.0.0.1:7443\r\nOrigin: http://localhost:7443\r\n" + ws, false},
		{"foreign origin", anon, exec, "Host: 127.0.0.1:7443\r\nOrigin: http://attacker.example\r\n" + ws, false},
		{"listed host", listed, "/version", "Host: dev.example:443\r\n", true},
		{"listed wildcard", listed, "/version", "Host: a.corp.example\r\n", true},
		{"loopback not listed", listed, "/version", "Host: localhost\r\n", false},
		{"authenticated any host", authed, "/version", "Host: gw.example\r\nAuthorization: Bearer tok\r\n", true},
		{"authenticated same origin", authed, exec, "Host: gw.example\r\nOrigin: https://gw.example\r\nAuthorization: Bearer tok\r\n" + ws, true},
		{"authenticated cross origin", authed, exec, "Host: gw.example\r\nOrigin: https://attacker.example\r\nAuthorization: Bearer tok\r\n" + ws, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up.reset()
			c, err := net.Dial("tcp", strings.TrimPrefix(tc.gw, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte("GET " + tc.target + " HTTP/1.1\r\n" + tc.head + "\r\n"))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			seen := len(up.requests())
			if tc.forwarded && (seen != 1 || resp.StatusCode == http.StatusForbidden) {
				t.Errorf("got %d, upstream saw %d requests; want it forwarded", resp.StatusCode, seen)
			}
			if !tc.forwarded && (seen != 0 || resp.StatusCode != http.StatusForbidden) {
				t.Errorf("got %d, upstream saw %d requests; want 403 and nothing forwarded", resp.StatusCode, seen)
			}
		})
	}
}

// TestIdentityHeadersNeverForwarded: whatever the spelling, no header that
// claims an identity reaches the upstream from a client. The API server's
// own impersonation headers are requests to impersonate, which this
// caller (anonymous, no RBAC, an upstream that cannot review) may not
// make: refused, and nothing but the access review reaches the upstream.
func TestIdentityHeadersNeverForwarded(t *testing.T) {
	up := newRecordingUpstream(t)
	gw, _ := startGateway(t, up.URL, nil)
	for _, tc := range []struct {
		head string
		code int
	}{
		{"Impersonate-User: system:admin\r\nimpersonate-group: system:masters\r\n", http.StatusForbidden},
		{"Impersonate-User: system:admin\r\nImpersonate-Uid: system:admin\r\n", http.StatusForbidden},
		{"Impersonate-User: system:admin\r\nImpersonate-Extra-Scopes: system:admin\r\n", http.StatusBadRequest},
		{"impersonate-group: system:masters\r\n", http.StatusBadRequest},
	} {
		for _, target := range []string{"/version", "/api/v1/namespaces/default/pods/p/exec?command=id&stdout=1"} {
			up.reset()
			if code := rawGet(t, gw, target, tc.head); code != tc.code {
				t.Errorf("%s with %q: got %d, want %d", target, tc.head, code, tc.code)
			}
			for _, r := range up.requests() {
				if r.Method != http.MethodPost || r.URL.Path != "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" {
					t.Errorf("%s with %q: upstream saw %s %s", target, tc.head, r.Method, r.URL)
				}
				for k, v := range r.Header {
					if strings.Contains(strings.Join(v, ","), "system:") {
						t.Errorf("%s with %q: upstream got %s: %s", target, tc.head, k, v)
					}
				}
			}
		}
	}
	claims := []string{"X-Remote-User", "x-remote-group", "X-Remote-Extra-Scopes", "X_Remote_User",
		"Impersonate_User", "IMPERSONATE_GROUP", "Impersonate_Extra_Scopes", "X-Forwarded-User", "X-Forwarded-Groups",
		"X-Forwarded-Email", "X_Forwarded_User", "X-Auth-Request-User", "X-Auth-Request-Groups"}
	var head strings.Builder
	for _, h := range claims {
		head.WriteString(h + ": system:admin\r\n")
	}
	for _, target := range []string{"/version", "/api/v1/namespaces/default/pods/p",
		"/api/v1/namespaces/default/pods/p/exec?command=id&stdout=1"} {
		up.reset()
		h := head.String()
		if strings.HasSuffix(target, "stdout=1") {
			h += "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
		}
		rawGet(t, gw, target, h)
		seen := up.requests()
		if len(seen) != 1 {
			t.Fatalf("%s: upstream saw %d requests, want 1", target, len(seen))
		}
		for k, v := range seen[0].Header {
			for _, val := range v {
				if strings.Contains(val, "system:admin") {
					t.Errorf("%s: upstream got %s: %s", target, k, val)
				}
			}
		}
	}
}

// TestAnonymousNeedsRBAC: anonymous access from any address without an
// authorizer would let anyone do anything; the gateway refuses to start.
func TestAnonymousNeedsRBAC(t *testing.T) {
	u := newRecordingUpstream(t)
	up, _ := http.NewRequest("GET", u.URL, nil)
	if _, err := gateway.New(&gateway.Options{Upstream: up.URL, AllowAnonymous: true}); err == nil || !strings.Contains(err.Error(), "authorizer") {
		t.Errorf("New with AllowAnonymous and no Authorizer: %v, want an error naming the authorizer", err)
	}
	if _, err := gateway.New(&gateway.Options{Upstream: up.URL, AllowAnonymous: true, Authorizer: gateway.NewRBAC()}); err != nil {
		t.Errorf("with RBAC: %v", err)
	}
}

// TestOptionsRefused: options that cannot work refuse to start the gateway,
// saying which.
func TestOptionsRefused(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	for _, tc := range []struct {
		name string
		o    gateway.Options
		want string
	}{
		{"unknown upstream wire", gateway.Options{Upstream: u, UpstreamWire: "quic"}, `unknown upstream wire "quic"`},
		{"kubelet paths translated", gateway.Options{Upstream: u, UpstreamWire: protocol.SPDY, KubeletNode: "n"}, "kubelet paths"},
		{"no upstream", gateway.Options{}, "upstream must be"},
	} {
		if _, err := gateway.New(&tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// secretsRBAC lets carol read and create the Secrets of dev, and nothing
// else of them.
const secretsRBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-reader, namespace: dev}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: carol-secrets, namespace: dev}
subjects: [{kind: User, name: carol}]
roleRef: {kind: Role, name: secret-reader}
`

// TestSecretsOnlyWhenAsked: in front of a cluster no Secret is
// forwarded, whatever RBAC allows; with Options.Secrets (serve's), each
// read and write of one is authorized as any other, by verb, namespace
// and name.
func TestSecretsOnlyWhenAsked(t *testing.T) {
	tokens, err := gateway.ParseTokens(strings.NewReader("nobody-token,nobody,9\ncarol-token,carol,10\n"))
	if err != nil {
		t.Fatal(err)
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(secretsRBAC)); err != nil {
		t.Fatal(err)
	}
	for _, secrets := range []bool{false, true} {
		t.Run(fmt.Sprintf("secrets=%v", secrets), func(t *testing.T) {
			up := newRecordingUpstream(t)
			gw, _ := startGateway(t, up.URL, &gateway.Options{Tokens: tokens, Authorizer: rbac, Secrets: secrets})
			for _, tc := range []struct {
				method, token, path string
				code                int // with Options.Secrets; 404 without
			}{
				{"GET", "carol-token", "/api/v1/namespaces/dev/secrets", 200},
				{"GET", "carol-token", "/api/v1/namespaces/dev/secrets/db", 200},
				{"POST", "carol-token", "/api/v1/namespaces/dev/secrets", 200},
				{"GET", "carol-token", "/api/v1/namespaces/kube-system/secrets/db", 403},
				{"GET", "carol-token", "/api/v1/secrets", 403},
				{"DELETE", "carol-token", "/api/v1/namespaces/dev/secrets/db", 403},
				{"PATCH", "carol-token", "/api/v1/namespaces/dev/secrets/db", 403},
				{"GET", "nobody-token", "/api/v1/namespaces/dev/secrets/db", 403},
				{"GET", "carol-token", "/api/v1/namespaces/dev/secrets/db/status", 404},
				{"POST", "carol-token", "/api/v1/namespaces/dev/secrets/db", 405},
			} {
				up.reset()
				req, err := http.NewRequest(tc.method, gw+tc.path, strings.NewReader("{}"))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+tc.token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := tc.code
				if !secrets {
					want = map[string]int{"GET": 404}[tc.method]
					if want == 0 {
						want = 405
					}
				}
				if resp.StatusCode != want {
					t.Errorf("%s %s as %s: %d, want %d", tc.method, tc.path, tc.token, resp.StatusCode, want)
				}
				if forwarded := len(up.requests()) > 0; forwarded != (want == 200) {
					t.Errorf("%s %s as %s: forwarded %v", tc.method, tc.path, tc.token, forwarded)
				}
			}
		})
	}
}
