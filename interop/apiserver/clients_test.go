package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestClientGo runs client-go's WebSocket and SPDY executors through the
// real API server to both nodes: bytes both ways and the exit code.
func TestClientGo(t *testing.T) {
	executors := []struct {
		name string
		ws   bool
		make func(u *url.URL) (remotecommand.Executor, error)
	}{
		{"websocket", true, func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(env.cp.Config, http.MethodGet, u.String())
		}},
		{"spdy", false, func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewSPDYExecutor(env.cp.Config, http.MethodPost, u)
		}},
	}
	for _, n := range env.nodes {
		for _, e := range executors {
			t.Run(n.name+"/"+e.name, func(t *testing.T) {
				u := env.cp.Admin.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").
					Name(n.pod("exec")).SubResource("exec").VersionedParams(&corev1.PodExecOptions{
					Container: "main", Command: []string{"sh", "-c", "cat && echo to-stderr >&2 && exit 5"},
					Stdin: true, Stdout: true, Stderr: true,
				}, scheme.ParameterCodec).URL()
				ex, err := e.make(u)
				if err != nil {
					t.Fatal(err)
				}
				in, err := os.ReadFile(env.input.Path)
				if err != nil {
					t.Fatal(err)
				}
				mark := n.mark()
				var stdout, stderr bytes.Buffer
				err = ex.StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdin: bytes.NewReader(in), Stdout: &stdout, Stderr: &stderr})
				var ce utilexec.CodeExitError
				if !errors.As(err, &ce) || ce.Code != 5 {
					t.Errorf("stream: %v, want exit code 5", err)
				}
				if !bytes.Equal(stdout.Bytes(), in) {
					t.Errorf("stdout: %d bytes sha256 %s, want the input (%d bytes)", stdout.Len(), sha(stdout.Bytes()), len(in))
				}
				if stderr.String() != "to-stderr\n" {
					t.Errorf("stderr %q", stderr.String())
				}
				want := "exec/spdy"
				if e.ws && n.declared {
					want = "exec/websocket"
				}
				if got := n.sessionsSince(mark); len(got) != 1 || got[0] != want {
					t.Errorf("node %s saw %q, want [%s]", n.name, got, want)
				}
			})
		}
	}
}

// TestPortholeClient runs porthole's own client through the real API
// server: exec with a token and with a client certificate, cp both ways,
// and a refusal in the API server's words.
func TestPortholeClient(t *testing.T) {
	for _, n := range env.nodes {
		t.Run(n.name, func(t *testing.T) {
			for name, kubeconfig := range map[string]string{"token": env.adminKubeconfig, "client-cert": env.certKubeconfig} {
				t.Run("exec-"+name, func(t *testing.T) {
					f, err := os.Open(env.input.Path)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					r := porthole(t, kubeconfig, f, "exec", "-i", n.pod("exec"), "-c", "main", "--",
						"sh", "-c", "cat && echo to-stderr >&2 && exit 4")
					if r.code != 4 {
						t.Errorf("exit code %d, want 4 (stderr %q)", r.code, tail(r.stderr))
					}
					if int64(len(r.stdout)) != env.input.Size || sha(r.stdout) != env.input.SHA256 {
						t.Errorf("stdout: %d bytes, want the input", len(r.stdout))
					}
					// As kubectl says it.
					if string(r.stderr) != "to-stderr\ncommand terminated with exit code 4\n" {
						t.Errorf("stderr %q", tail(r.stderr))
					}
				})
			}
			t.Run("cp", func(t *testing.T) {
				dir := t.TempDir()
				inPod, back := filepath.Join(dir, "in-pod.bin"), filepath.Join(dir, "back.bin")
				if r := porthole(t, env.adminKubeconfig, nil, "cp", "-c", "main", env.input.Path, n.pod("exec")+":"+inPod); r.code != 0 {
					t.Fatalf("cp to the pod: exit code %d (stderr %q)", r.code, tail(r.stderr))
				}
				checkFile(t, inPod)
				if r := porthole(t, env.adminKubeconfig, nil, "cp", "-c", "main", n.pod("exec")+":"+inPod, back); r.code != 0 {
					t.Fatalf("cp from the pod: exit code %d (stderr %q)", r.code, tail(r.stderr))
				}
				checkFile(t, back)
			})
			t.Run("forbidden", func(t *testing.T) {
				r := porthole(t, env.limitedKubeconfig, nil, "exec", n.pod("exec"), "-c", "main", "--", "true")
				want := fmt.Sprintf(`pods "%s" is forbidden: User "%s" cannot create resource "pods/exec"`, n.pod("exec"), harness.LimitedUser)
				if r.code != 1 || !strings.Contains(string(r.stderr), want) {
					t.Errorf("exit code %d, stderr %q; want 1 and %q", r.code, tail(r.stderr), want)
				}
			})
		})
	}
}

func porthole(t *testing.T, kubeconfig string, stdin *os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	argv := append([]string{args[0], "--kubeconfig", kubeconfig}, args[1:]...)
	cmd := exec.CommandContext(ctx, env.porthole, argv...)
	home := t.TempDir()
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.Bytes(), stderr: errb.Bytes()}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("porthole %s: %v (stderr %q)", strings.Join(args, " "), err, tail(r.stderr))
		}
		r.code = ee.ExitCode()
	}
	return r
}
