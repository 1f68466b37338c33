package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
)

// TestProbesAreTheGatewaysOwn: /livez, /healthz and /readyz answer without
// credentials and under any Host (a load balancer probes a replica by its
// address), from the gateway itself; Drain turns /readyz to 503 while new
// sessions still start, so a balancer can stop sending them before the
// grace begins; after Shutdown it stays 503.
func TestProbesAreTheGatewaysOwn(t *testing.T) {
	node := startNode(t)
	tokens, err := gateway.ParseTokens(strings.NewReader(tokensCSV))
	if err != nil {
		t.Fatal(err)
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(rbacYAML)); err != nil {
		t.Fatal(err)
	}
	gw, g := startGateway(t, node, &gateway.Options{Tokens: tokens, Authorizer: rbac})
	probe := func(path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, gw+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "10.1.2.3:8443" // a pod address, not on the allow-list
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/livez", "/healthz", "/readyz"} {
		if code, body := probe(p); code != 200 || body != "ok" {
			t.Errorf("%s: %d %q, want 200 ok", p, code, body)
		}
	}
	// Anything else still needs the Host check and credentials.
	if code, _ := probe("/version"); code == 200 {
		t.Errorf("/version under a foreign Host without credentials: 200")
	}

	g.Drain()
	if code, body := probe("/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("/readyz while draining: %d %q, want 503", code, body)
	}
	if code, _ := probe("/livez"); code != 200 {
		t.Errorf("/livez while draining: %d, want 200", code)
	}
	h := http.Header{"Authorization": {"Bearer admin-token"}}
	if out, _, st := wsExec(t, execURL(gw, []string{"echo", "still"}, "stdout"), h, nil); string(out) != "still\n" {
		t.Errorf("session while draining: %q, status %s", out, st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := probe("/readyz"); code != 503 {
		t.Errorf("/readyz after Shutdown: %d, want 503", code)
	}
}
