package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAuth accepts "Bearer alice" and "Bearer bob" and refuses the rest,
// like the gateway's Authenticated with a token file.
func fakeAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer alice", "Bearer bob":
			next.ServeHTTP(w, r)
		default:
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		}
	})
}

func fakeUser(r *http.Request) (string, bool) {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), true
}

func TestSite(t *testing.T) {
	dir := t.TempDir()
	write := func(name, owner string) {
		env := ""
		if owner != "" {
			env = `,"env":{"PORTHOLE_USER":"` + owner + `"}`
		}
		body := `{"version":2,"width":80,"height":24,"timestamp":1` + env + "}\n" + `[0.1,"o","hi"]` + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.cast", "alice")
	write("b.cast", "bob")
	write("n.cast", "") // no owner: nobody's
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) })
	srv := httptest.NewServer(Site(api, &SiteOptions{RecordingDir: dir, Authenticate: fakeAuth, User: fakeUser, SignIn: true}))
	defer srv.Close()

	get := func(path, token, accept string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, path, token, accept string
		code                      int
		contains, absent          string
	}{
		{"page is public", "/ui/", "", "", 200, "<html", ""},
		{"api behind", "/api/v1/pods", "", "", 200, "api /api/v1/pods", ""},
		{"browser at / goes to the page", "/", "", "text/html", 302, "", ""},
		{"api client at /", "/", "", "application/json", 200, "api /", ""},
		{"recordings need authentication", "/ui/recordings/", "", "", 401, "", ""},
		{"alice lists her own", "/ui/recordings/", "alice", "", 200, `"a.cast"`, `"b.cast"`},
		{"alice plays hers", "/ui/recordings/a.cast", "alice", "", 200, `"hi"`, ""},
		{"alice cannot play bob's", "/ui/recordings/b.cast", "alice", "", 404, "", ""},
		{"nobody owns an unowned one", "/ui/recordings/n.cast", "bob", "", 404, "", ""},
		{"whoami needs authentication", "/ui/whoami", "", "", 401, "", ""},
		{"whoami names the user", "/ui/whoami", "bob", "", 200, `{"user":"bob","signIn":true}`, ""},
	}
	for _, tc := range tests {
		code, body := get(tc.path, tc.token, tc.accept)
		if code != tc.code || !strings.Contains(body, tc.contains) || (tc.absent != "" && strings.Contains(body, tc.absent)) {
			t.Errorf("%s: got %d %q, want %d containing %q without %q", tc.name, code, body, tc.code, tc.contains, tc.absent)
		}
	}
}

func TestSiteWithoutRecordings(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) })
	srv := httptest.NewServer(Site(api, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/ui/recordings/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The page asks on every load: "none kept" is an answer, not a 404
	// in the browser's console.
	if resp.StatusCode != 200 || string(b) != `{"enabled":false,"items":[]}`+"\n" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("recordings without a directory: got %d %q, want 200 and enabled false", resp.StatusCode, b)
	}
	// No authentication: nothing to sign in to.
	resp, err = http.Get(srv.URL + "/ui/whoami")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"signIn":false}`+"\n" {
		t.Fatalf("whoami without authentication: got %d %q, want 200 and signIn false", resp.StatusCode, b)
	}
	resp, err = http.Get(srv.URL + "/ui/recordings/x.cast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("a recording without a directory: got %d, want 404", resp.StatusCode)
	}
}
