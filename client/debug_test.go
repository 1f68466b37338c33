package client

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/porthole/porthole/kube"
)

// TestAddEphemeralContainer: the container goes as kubectl debug sends
// it (a strategic merge patch of the subresource, the new container
// alone); the API server's 404 for the path (no such subresource) is
// ErrNoEphemeral, its 404 for the pod is its own message.
func TestAddEphemeralContainer(t *testing.T) {
	var got struct{ method, path, contentType, body string }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.path, got.contentType, got.body = r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/namespaces/ns/pods/gone/ephemeralcontainers":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"gone\" not found","reason":"NotFound","details":{"name":"gone","kind":"pods"},"code":404}`)
		case r.URL.Path == "/api/v1/namespaces/old/pods/p/ephemeralcontainers":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}`)
		default:
			json.NewEncoder(w).Encode(kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p"}, Spec: kube.PodSpec{EphemeralContainers: []kube.EphemeralContainer{{Container: kube.Container{Name: "dbg"}}}}})
		}
	}))
	defer srv.Close()
	c, err := New(&Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ec := kube.EphemeralContainer{Container: kube.Container{Name: "dbg", Image: "busybox", Stdin: true}, TargetContainerName: "main"}
	p, err := c.AddEphemeralContainer(t.Context(), "ns", "p", ec)
	if err != nil || len(p.Spec.EphemeralContainers) != 1 {
		t.Fatalf("got %+v, %v", p, err)
	}
	want := `{"spec":{"ephemeralContainers":[{"name":"dbg","image":"busybox","stdin":true,"targetContainerName":"main"}]}}`
	if got.method != http.MethodPatch || got.path != "/api/v1/namespaces/ns/pods/p/ephemeralcontainers" ||
		got.contentType != StrategicMergePatch || got.body != want {
		t.Errorf("request: %+v, want PATCH of the subresource, %s, %s", got, StrategicMergePatch, want)
	}
	if _, err := c.AddEphemeralContainer(t.Context(), "old", "p", ec); !errors.Is(err, ErrNoEphemeral) {
		t.Errorf("a server without the subresource: got %v, want ErrNoEphemeral", err)
	}
	var ae *APIError
	if _, err := c.AddEphemeralContainer(t.Context(), "ns", "gone", ec); errors.Is(err, ErrNoEphemeral) || !errors.As(err, &ae) || ae.Message != `pods "gone" not found` {
		t.Errorf("no such pod: got %v, want the server's message", err)
	}
}
