package client

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/porthole/porthole/interop/criref"
	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// refPod is the pod the shim reports: one running container, "main".
const refPod = `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"ref","namespace":"default"},
"spec":{"containers":[{"name":"main","image":"local"}]},"status":{"phase":"Running"}}`

// crirefCluster stands an API in front of the reference node so that
// porthole exec (which reads the pod first, as kubectl does) can reach it:
// GET of pod "ref" is answered here; exec goes either to the front (the API
// server translator, or its raw SPDY proxy) or, with direct, to a fresh
// one-time URL of the CRI library per request.
func crirefCluster(t *testing.T, s *criref.Server, direct bool) string {
	t.Helper()
	front, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/default/pods/ref" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(refPod))
			return
		}
		target := front
		if direct {
			q := r.URL.Query()
			raw, err := s.ExecURL(&runtimeapi.ExecRequest{ContainerId: "default/ref/" + q.Get("container"), Cmd: q["command"],
				Stdin: q.Get("stdin") == "true", Stdout: q.Get("stdout") == "true", Stderr: q.Get("stderr") == "true", Tty: q.Get("tty") == "true"})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if target, err = url.Parse(raw); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			if direct {
				pr.Out.URL = target
			} else {
				pr.SetURL(target)
			}
			pr.Out.Host = target.Host
		}}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubeconfig.Write(kc, srv.URL, "criref", "default"); err != nil {
		t.Fatal(err)
	}
	return kc
}

// TestCLIReference: porthole exec against the API server's translator and
// its SPDY proxy, and against the CRI library itself (where the WebSocket
// attempt is refused and the fallback must show in the -v=6 log): 64 MiB
// byte-exact and an exit code.
func TestCLIReference(t *testing.T) {
	s := startCriref(t)
	for _, tc := range []struct {
		name     string
		direct   bool
		flags    []string
		wire     string
		fallback bool
	}{
		{"apiserver-translator", false, nil, "websocket", false},
		{"apiserver-spdy-proxy", false, []string{"--protocol", "spdy"}, "spdy", false},
		{"kubelet-cri-library", true, nil, "spdy", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cliSetup{bin: portholeBin(t), kubeconfig: crirefCluster(t, s, tc.direct)}
			out := harness.NewHashWriter()
			args := append(append([]string{"exec", "-v=6"}, tc.flags...), "ref", "--", "cat", env.Data.Path)
			code, stderr := c.run(t, nil, nil, out, args...)
			if code != 0 || out.Len() != env.Data.Size || out.Sum() != env.Data.SHA256 {
				t.Errorf("exit %d, stdout %d bytes sha256 %s; want 0, %d bytes sha256 %s; stderr:\n%s",
					code, out.Len(), out.Sum(), env.Data.Size, env.Data.SHA256, stderr)
			}
			if want := `msg="session wire" wire=` + tc.wire; !strings.Contains(stderr, want) {
				t.Errorf("log lacks %s:\n%s", want, stderr)
			}
			if got := strings.Contains(stderr, "falling back to spdy"); got != tc.fallback {
				t.Errorf("fell back %v, want %v:\n%s", got, tc.fallback, stderr)
			}
			var errOut bytes.Buffer
			code, stderr = c.run(t, nil, nil, &errOut, append(append([]string{"exec"}, tc.flags...), "ref", "--", "sh", "-c", "exit 42")...)
			if code != 42 || stderr != "command terminated with exit code 42\n" {
				t.Errorf("exit %d stderr %q, want 42 and kubectl's message", code, stderr)
			}
		})
	}
}
