package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSiteAuditorSeesAll: the auditor lists and plays every user's
// recordings (unowned ones too); everyone else still sees only their own.
func TestSiteAuditorSeesAll(t *testing.T) {
	dir := t.TempDir()
	for name, owner := range map[string]string{"a.cast": "alice", "b.cast": "bob", "n.cast": ""} {
		env := ""
		if owner != "" {
			env = `,"env":{"PORTHOLE_USER":"` + owner + `"}`
		}
		body := `{"version":2,"width":80,"height":24,"timestamp":1` + env + "}\n" + `[0.1,"o","` + name + `"]` + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	auditor := func(r *http.Request) bool { u, _ := fakeUser(r); return u == "bob" }
	srv := httptest.NewServer(Site(http.NotFoundHandler(), &SiteOptions{Recordings: DirSource(dir), Auditor: auditor,
		Authenticate: fakeAuth, User: fakeUser}))
	defer srv.Close()
	get := func(path, token string) (int, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	names := func(token string) []string {
		code, b := get("/ui/recordings/", token)
		var list struct{ Items []recording }
		if err := json.Unmarshal(b, &list); code != 200 || err != nil {
			t.Fatalf("list as %s: %d %s", token, code, b)
		}
		var out []string
		for _, it := range list.Items {
			out = append(out, it.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := names("bob"); !slices.Equal(got, []string{"a.cast", "b.cast", "n.cast"}) {
		t.Errorf("the auditor lists %v, want all three", got)
	}
	if got := names("alice"); !slices.Equal(got, []string{"a.cast"}) {
		t.Errorf("alice lists %v, want only hers", got)
	}
	if code, b := get("/ui/recordings/a.cast", "bob"); code != 200 || !strings.Contains(string(b), `[0.1,"o","a.cast"]`) {
		t.Errorf("the auditor plays alice's: %d %q", code, b)
	}
	if code, _ := get("/ui/recordings/b.cast", "alice"); code != 404 {
		t.Errorf("alice plays the auditor's: %d, want 404", code)
	}
}
