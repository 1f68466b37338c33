package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCast writes a recording in the asciicast v2 shape the gateway's
// recorder writes: a header line, then [time, "o", data] events.
func writeCast(t *testing.T, dir, name, header string, events ...string) []byte {
	t.Helper()
	b := []byte(header + "\n" + strings.Join(events, "\n"))
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func recordingsDir(t *testing.T) (string, map[string][]byte) {
	dir := t.TempDir()
	files := map[string][]byte{
		"old.cast": writeCast(t, dir, "old.cast", `{"version":2,"width":80,"height":24,"timestamp":100,"title":"alice: exec sh"}`, `[0.5, "o", "hi\r\n"]`),
		"new.cast": writeCast(t, dir, "new.cast", `{"version":2,"width":120,"height":40,"timestamp":200,"title":"bob: exec sh",`+
			`"env":{"PORTHOLE_USER":"bob","PORTHOLE_NAMESPACE":"default","PORTHOLE_POD":"demo","PORTHOLE_CONTAINER":"shell","PORTHOLE_COMMAND":"sh -l","PORTHOLE_VERB":"exec"}}`,
			`[0.1, "o", "$ "]`, `[2.5, "r", "100x30"]`, `[3.25, "o", "bye"]`),
		"other.cast": writeCast(t, dir, "other.cast", `{"version":2,"width":80,"height":24,"timestamp":200,"title":"alice: attach"}`),
	}
	writeCast(t, dir, "v1.cast", `{"version":1,"width":80,"height":24}`)
	writeCast(t, dir, "junk.cast", `not json`)
	writeCast(t, dir, ".hidden.cast", `{"version":2,"width":80,"height":24}`)
	writeCast(t, dir, "notes.txt", `{"version":2,"width":80,"height":24}`)
	if err := os.Mkdir(filepath.Join(dir, "dir.cast"), 0o700); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	writeCast(t, outside, "secret.cast", `{"version":2,"width":80,"height":24,"title":"outside"}`)
	if err := os.Symlink(filepath.Join(outside, "secret.cast"), filepath.Join(dir, "link.cast")); err != nil {
		t.Fatal(err)
	}
	return dir, files
}

func get(t *testing.T, h http.Handler, path, user string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-Test-User", user)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.Bytes()
}

func TestRecordingsList(t *testing.T) {
	dir, files := recordingsDir(t)
	for _, tc := range []struct {
		name    string
		visible func(*http.Request, recording) bool
		user    string
		want    []string
	}{
		{"all", nil, "", []string{"new.cast", "other.cast", "old.cast"}},
		{"alice's", byTitleUser, "alice", []string{"other.cast", "old.cast"}},
		{"nobody's", byTitleUser, "carol", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecordings(&recordingsOptions{Dir: dir, Visible: tc.visible})
			resp, body := get(t, h, "/", tc.user)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Error("no X-Frame-Options")
			}
			var list struct{ Items []recording }
			if err := json.Unmarshal(body, &list); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, r := range list.Items {
				got = append(got, r.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	h := newRecordings(&recordingsOptions{Dir: dir})
	_, body := get(t, h, "/", "")
	var list struct{ Items []recording }
	json.Unmarshal(body, &list)
	want := recording{Name: "new.cast", Title: "bob: exec sh", Timestamp: 200, Width: 120, Height: 40, Size: int64(len(files["new.cast"])),
		Owner: "bob", Namespace: "default", Pod: "demo", Container: "shell", Command: "sh -l", Verb: "exec", Duration: 3.25}
	if len(list.Items) == 0 || list.Items[0] != want {
		t.Errorf("first item: got %+v, want %+v", list.Items, want)
	}
}

func byTitleUser(r *http.Request, rec recording) bool {
	return strings.HasPrefix(rec.Title, r.Header.Get("X-Test-User")+":")
}

func TestRecordingsFile(t *testing.T) {
	dir, files := recordingsDir(t)
	h := newRecordings(&recordingsOptions{Dir: dir, Visible: byTitleUser})
	for _, tc := range []struct {
		path, user string
		code       int
		body       []byte
	}{
		{"/old.cast", "alice", 200, files["old.cast"]},
		{"/new.cast", "alice", 404, nil}, // bob's
		{"/new.cast", "bob", 200, files["new.cast"]},
		{"/v1.cast", "alice", 404, nil},
		{"/junk.cast", "alice", 404, nil},
		{"/.hidden.cast", "alice", 404, nil},
		{"/notes.txt", "alice", 404, nil},
		{"/dir.cast", "alice", 404, nil},
		{"/link.cast", "", 404, nil}, // a symlink out of the directory
		{"/missing.cast", "alice", 404, nil},
		{"/sub/old.cast", "alice", 404, nil},
	} {
		t.Run(tc.path+" as "+tc.user, func(t *testing.T) {
			resp, body := get(t, h, tc.path, tc.user)
			if resp.StatusCode != tc.code {
				t.Fatalf("got %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.code == 200 {
				if !bytes.Equal(body, tc.body) {
					t.Errorf("body: got %q, want %q", body, tc.body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/x-asciicast" {
					t.Errorf("Content-Type: got %q", ct)
				}
			}
		})
	}
	link := newRecordings(&recordingsOptions{Dir: dir})
	if resp, _ := get(t, link, "/link.cast", ""); resp.StatusCode != 404 {
		t.Errorf("symlink out of the directory with no Visible: got %d, want 404", resp.StatusCode)
	}
	resp, _ := get(t, newRecordings(&recordingsOptions{Dir: filepath.Join(dir, "nope")}), "/", "")
	if resp.StatusCode != 500 {
		t.Errorf("missing directory: got %d, want 500", resp.StatusCode)
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		`{"version":2,"width":80,"height":24,"timestamp":100,"title":"x"}` + "\n[0.1, \"o\", \"a\"]",
		`{"version":1}`, "not json", "", "\n", `{"version":2,"width":-1,"height":24}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := parseHeader(bytes.NewReader(b))
		if err == nil && (rec.Width <= 0 || rec.Height <= 0) {
			t.Fatalf("accepted a header without a size: %+v", rec)
		}
	})
}

func TestLastEventTime(t *testing.T) {
	long := `{"version":2,"width":80,"height":24}` + "\n" + strings.Repeat(`[1.5, "o", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]`+"\n", 4000) + `[7.125, "o", "end"]` + "\n"
	for _, tc := range []struct {
		name string
		text string
		want float64
	}{
		{"events", `{"version":2}` + "\n" + `[0.5, "o", "a"]` + "\n" + `[1.75, "r", "80x24"]` + "\n", 1.75},
		{"no events", `{"version":2,"width":80,"height":24}` + "\n", 0},
		{"header only, no newline", `{"version":2,"width":80,"height":24}`, 0},
		{"a torn last line", `{"version":2}` + "\n" + `[0.5, "o", "a"]` + "\n" + `[9.0, "o", "unfini`, 0.5},
		{"longer than the tail", long, 7.125},
		{"negative time", `{"version":2}` + "\n" + `[-1, "o", "a"]` + "\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lastEventTime(strings.NewReader(tc.text), int64(len(tc.text))); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzLastEventTime(f *testing.F) {
	for _, s := range []string{"{}\n[1.5, \"o\", \"a\"]\n", "[", "", "\n\n", "[1e308, 1]", "{}\n[\"x\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if d := lastEventTime(bytes.NewReader(b), int64(len(b))); d < 0 {
			t.Fatalf("negative duration %v", d)
		}
	})
}
