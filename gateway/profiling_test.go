package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/porthole/porthole/gateway"
)

// TestProfiling: /debug/pprof/ is served only with Options.Profiling, and
// then only to authenticated callers.
func TestProfiling(t *testing.T) {
	node := startNode(t)
	get := func(t *testing.T, u, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name      string
		profiling bool
		token     string
		want      int
	}{
		{"off by default", false, "admin-token", http.StatusNotFound},
		{"on", true, "admin-token", http.StatusOK},
		{"on, no credentials", true, "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := secureGateway(t, node, &gateway.Options{Profiling: tc.profiling})
			code, body := get(t, gw+"/debug/pprof/goroutine?debug=1", tc.token)
			if code != tc.want {
				t.Fatalf("GET /debug/pprof/goroutine: %d %.200q, want %d", code, body, tc.want)
			}
			if code == http.StatusOK && !strings.Contains(body, "goroutine profile:") {
				t.Errorf("body %.200q is not a goroutine profile", body)
			}
		})
	}
}
