package serve

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/websocket"
)

// TestGatewayInFront: with Options.Gateway, every request is authenticated
// and authorized by the gateway, which reaches the API and the node through
// its private socket, and forwards serve's Secrets as no gateway in front of
// a cluster does.
func TestGatewayInFront(t *testing.T) {
	tokens, err := gateway.ParseTokens(strings.NewReader("tok,alice,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, stop := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...),
		Gateway: &gateway.Options{Tokens: tokens}})
	do := func(path, token string) int {
		req, _ := http.NewRequest("GET", s.URL()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("/api/v1/namespaces/apps/pods/api", ""); code != 401 {
		t.Errorf("pod get without token: %d, want 401", code)
	}
	if code := do("/api/v1/namespaces/apps/pods/api", "tok"); code != 200 {
		t.Errorf("pod get with token: %d, want 200", code)
	}
	if code := do("/api/v1/namespaces/default/serviceaccounts", "tok"); code != 404 {
		t.Errorf("unproxied path: %d, want 404", code)
	}
	// serve's own Secrets are forwarded, under authentication as the rest.
	if code := do("/api/v1/namespaces/default/secrets", ""); code != 401 {
		t.Errorf("secrets without token: %d, want 401", code)
	}
	if code := do("/api/v1/namespaces/default/secrets", "tok"); code != 200 {
		t.Errorf("secrets with token: %d, want 200", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := s.URL() + "/api/v1/namespaces/default/pods/demo/exec?command=date&stdout=true"
	if _, _, err := websocket.Dial(ctx, u, nil); err == nil {
		t.Error("exec without token upgraded")
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: http.Header{"Authorization": {"Bearer tok"}}})
	if err != nil {
		t.Fatalf("exec with token: %v", err)
	}
	st := readAllChan(conn.Channel(channel.Error))
	go readAllChan(conn.Channel(channel.Stdout))
	// The fake runtime fails every exec: the node's failure status proves the
	// session reached it through the gateway.
	if got := <-st; !strings.Contains(string(got), "Failure") {
		t.Errorf("status %q", got)
	}
	conn.Close()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func readAllChan(ch *websocket.Channel) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		var b []byte
		buf := make([]byte, 4096)
		for {
			n, err := ch.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				out <- b
				return
			}
		}
	}()
	return out
}

// authorizeFunc is an Authorizer from a function.
type authorizeFunc func(gateway.Attributes) bool

func (f authorizeFunc) Authorize(_ context.Context, a gateway.Attributes) (bool, error) {
	return f(a), nil
}

// TestKubeletPaths: the kubelet's streaming paths reach the node through
// the gateway, for callers allowed create on the node's proxy subresource
// (whatever the method), so an API server can stand in front of serve.
func TestKubeletPaths(t *testing.T) {
	tokens, err := gateway.ParseTokens(strings.NewReader("tok,apiserver,1\npods,alice,2\n"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []gateway.Attributes
	authz := authorizeFunc(func(a gateway.Attributes) bool {
		mu.Lock()
		seen = append(seen, a)
		mu.Unlock()
		if a.User.Name == "alice" {
			return a.Resource == "pods" // pods/exec, not nodes/proxy
		}
		return true
	})
	s, stop := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...),
		Gateway: &gateway.Options{Tokens: tokens, Authorizer: authz}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := s.URL() + "/exec/default/demo/shell?command=date&output=1"
	bearer := func(tok string) *websocket.DialOptions {
		return &websocket.DialOptions{Header: http.Header{"Authorization": {"Bearer " + tok}}}
	}
	if _, resp, err := websocket.Dial(ctx, u, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("kubelet exec without token: %v, want 401", err)
	}
	if _, resp, err := websocket.Dial(ctx, u, bearer("pods")); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("kubelet exec by a user without nodes/proxy: %v, want 403", err)
	}
	mu.Lock()
	seen = nil
	mu.Unlock()
	conn, _, err := websocket.Dial(ctx, u, bearer("tok"))
	if err != nil {
		t.Fatalf("kubelet exec with token: %v", err)
	}
	st := readAllChan(conn.Channel(channel.Error))
	go readAllChan(conn.Channel(channel.Stdout))
	// The fake runtime fails every exec: the node's failure status proves
	// the session reached it.
	if got := <-st; !strings.Contains(string(got), "Failure") {
		t.Errorf("status %q", got)
	}
	conn.Close()
	mu.Lock()
	want := []gateway.Attributes{{Verb: "create", Resource: "nodes", Subresource: "proxy", Name: "porthole"}}
	if len(seen) != 1 || seen[0].Verb != want[0].Verb || seen[0].Resource != want[0].Resource ||
		seen[0].Subresource != want[0].Subresource || seen[0].Name != want[0].Name {
		t.Errorf("authorized %+v, want %+v", seen, want)
	}
	mu.Unlock()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
