package root

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// TestCompletion: every verb completes pod names (cp as POD: without a
// space, for either argument) and -c the pod's containers, through the
// connection flags given on the line (here --token, which the server
// requires).
func TestCompletion(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/v1/namespaces/team/pods":
			io.WriteString(w, `{"kind":"PodList","items":[{"metadata":{"name":"one"}},{"metadata":{"name":"two"}}]}`)
		case "/api/v1/namespaces/team/pods/two":
			io.WriteString(w, `{"kind":"Pod","metadata":{"name":"two","namespace":"team"},"spec":{"initContainers":[{"name":"setup"}],"containers":[{"name":"main"},{"name":"side"}]}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubeconfig.Write(kc, srv.URL, "test", "team"); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--kubeconfig", kc, "--token", "tok"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", ""}, "one\ntwo\n:4\n"},
		{[]string{"attach", "t"}, "two\n:4\n"},
		{[]string{"port-forward", "o"}, "one\n:4\n"},
		{[]string{"cp", "o"}, "one:\n:6\n"},
		{[]string{"cp", "./local", "t"}, "two:\n:6\n"},
		{[]string{"exec", "two", "-c", ""}, "main\nside\nsetup\n:4\n"},
		{[]string{"attach", "pod/two", "-c", "s"}, "side\nsetup\n:4\n"},
		{[]string{"cp", "./local", "two:/tmp", "-c", "m"}, "main\n:4\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			root := NewCmd(&cli.Factory{IOStreams: ios, ConfigDir: func() (string, error) { return t.TempDir(), nil }})
			root.SetOut(out)
			args := append([]string{"__complete", tc.args[0]}, conn...)
			root.SetArgs(append(args, tc.args[1:]...))
			if err := root.ExecuteContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got, _, _ := strings.Cut(out.String(), "Completion ended"); got != tc.want {
				t.Errorf("completion %q, want %q", got, tc.want)
			}
		})
	}
}
