package serve

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// uiScript is the page's script, under its content-hashed name.
func uiScript(t *testing.T, page string) string {
	t.Helper()
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`<script type="module" src="([^"]+)">`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("the page names no script:\n%s", b)
	}
	return "/ui/" + string(m[1])
}

// TestUIRoutes: the browser terminal is served at /ui/ with its security
// headers, browsers asking for / are sent there, and API clients asking
// for / still get the API's Status.
func TestUIRoutes(t *testing.T) {
	s, _ := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...)})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(path, accept string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	script := uiScript(t, s.URL()+"/ui/")
	for _, tc := range []struct {
		name, path, accept string
		code               int
		location           string
	}{
		{"page", "/ui/", "text/html", 200, ""},
		{"script", script, "", 200, ""},
		{"no slash", "/ui", "text/html", http.StatusTemporaryRedirect, "/ui/"},
		{"browser at root", "/", "text/html,application/xhtml+xml,*/*;q=0.8", http.StatusFound, "/ui/"},
		{"api client at root", "/", "application/json", http.StatusNotFound, ""},
		{"missing asset", "/ui/nope.js", "", http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(tc.path, tc.accept)
			if resp.StatusCode != tc.code {
				t.Fatalf("GET %s: got %d, want %d", tc.path, resp.StatusCode, tc.code)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location: got %q, want %q", got, tc.location)
			}
			if strings.HasPrefix(tc.path, "/ui/") {
				if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
					t.Errorf("X-Frame-Options: got %q, want DENY", got)
				}
				if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
					t.Errorf("Content-Security-Policy: got %q, want frame-ancestors 'none'", got)
				}
			}
		})
	}
}
