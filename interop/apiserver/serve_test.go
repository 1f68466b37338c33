package apiserver

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/porthole/porthole/interop/internal/harness"
)

// startServe starts the porthole serve a TestSame… compares with the real
// API server, stopped when the test ends.
func startServe(t *testing.T) *harness.Server {
	t.Helper()
	srv, err := harness.StartServer(t.Context(), env.porthole, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// uniqueName is prefix and a number of this run: the API server here has
// no namespace controller, so a namespace deleted by an earlier run may
// still be there, terminating.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1e9)
}

// makeNamespace creates namespace name on the server of cfg, deleted when
// the test ends.
func makeNamespace(t *testing.T, cfg *rest.Config, name string) {
	t.Helper()
	if code, body := send(t, cfg, "POST", "/api/v1/namespaces", "application/json", `{"metadata":{"name":"`+name+`"}}`); code != 201 {
		t.Fatalf("namespace %s: %d %s", name, code, body)
	}
	t.Cleanup(func() { send(t, cfg, "DELETE", "/api/v1/namespaces/"+name, "", "") })
}

// sameNamespace makes a namespace of this run (see uniqueName) on both the
// real API server and srv, and returns its name.
func sameNamespace(t *testing.T, srv *harness.Server, prefix string) string {
	t.Helper()
	ns := uniqueName(prefix)
	makeNamespace(t, env.cp.Config, ns)
	makeNamespace(t, srv.Config, ns)
	return ns
}
