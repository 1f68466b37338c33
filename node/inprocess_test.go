package node_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol/status"
)

// TestServeSession: an exec served in process runs with the streams its
// query asks for, delivers its output, its stdin's EOF and its exit
// status; what the node would refuse over a wire comes back as the same
// HTTP status.
func TestServeSession(t *testing.T) {
	n := streamtest.NewNode(t, testPods(), nil).Node
	t.Run("exec", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, execURL("", "p", []string{"sh", "-c", "cat; echo err >&2; exit 42"}, "stdin", "stdout", "stderr"), nil)
		s, err := n.ServeSession(r)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			s.Stdin.Write([]byte("in\n"))
			s.Stdin.CloseWrite()
		}()
		errOut := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(s.Stderr)
			errOut <- string(b)
		}()
		out, err := io.ReadAll(s.Stdout)
		if err != nil || string(out) != "in\n" {
			t.Errorf("stdout %q, %v; want the stdin echoed", out, err)
		}
		if e := <-errOut; e != "err\n" {
			t.Errorf("stderr %q", e)
		}
		b, err := s.ReadStatus()
		if err != nil {
			t.Fatal(err)
		}
		if code, ok := status.IsExit(s.DecodeStatus(b)); !ok || code != 42 {
			t.Errorf("status %s: exit %d, %v; want 42", b, code, ok)
		}
		<-s.Conn.Done()
		if err := s.Conn.Err(); err != nil {
			t.Errorf("the node ended the session with %v, want a clean close", err)
		}
	})
	for _, tc := range []struct {
		name, path string
		code       int
		says       string
	}{
		{"no pod", execURL("", "nope", []string{"true"}, "stdout"), 404, `pods "nope" not found`},
		{"no container", execURL("", "two", []string{"true"}, "stdout"), 400, "a container name must be specified"},
		{"no stream", execURL("", "p", []string{"true"}), 400, "you must specify at least 1 of stdin, stdout, stderr"},
		{"port-forward", "/api/v1/namespaces/default/pods/p/portforward?ports=80", 404, "not found"},
		{"other path", "/api/v1/namespaces/default/pods/p/log", 404, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.ServeSession(httptest.NewRequest(http.MethodPost, tc.path, nil))
			var he *status.HTTPError
			if !errors.As(err, &he) || he.Code() != tc.code || !strings.Contains(he.Status.Message, tc.says) {
				t.Fatalf("ServeSession: %v; want %d saying %q", err, tc.code, tc.says)
			}
		})
	}
	// Requests the node refuses over HTTP get the same code and words in
	// process, an encoded name and another method included.
	for _, tc := range []struct{ name, method, path string }{
		{"encoded pod name", http.MethodPost, "/api/v1/namespaces/default/pods/a%2Fb/exec?command=true&stdout=true"},
		{"encoded namespace", http.MethodPost, "/api/v1/namespaces/de%66ault/pods/nope/exec?command=true&stdout=true"},
		{"method", http.MethodPut, execURL("", "p", []string{"true"}, "stdout")},
		{"no pod", http.MethodGet, execURL("", "nope", []string{"true"}, "stdout")},
	} {
		t.Run("as over HTTP: "+tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			n.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			var over status.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &over); err != nil || rec.Code < 400 {
				t.Fatalf("over HTTP: %d %q (%v): not a refusal", rec.Code, rec.Body, err)
			}
			_, err := n.ServeSession(httptest.NewRequest(tc.method, tc.path, nil))
			var he *status.HTTPError
			if !errors.As(err, &he) || he.Code() != rec.Code || he.Status.Message != over.Message {
				t.Fatalf("in process: %v; over HTTP: %d %q", err, rec.Code, over.Message)
			}
		})
	}
}
