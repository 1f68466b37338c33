package apiserver

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
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

// portholeWires are the wires porthole's client speaks, chosen as kubectl's
// are: WebSocket first, SPDY with the variables set to false.
var portholeWires = []harness.Wire{
	{Name: "websocket", WebSocket: true},
	{Name: "spdy", Env: []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}},
}

// TestPortholeClient runs porthole's own client through the real API
// server to both nodes, on both wires, with the kubectl cases (exec with
// exit code, tty with resize, attach, cp both ways, port-forward, the API
// server's refusals), and exec with a client certificate and with an exec
// credential plugin.
func TestPortholeClient(t *testing.T) {
	plugin := pluginKubeconfig(t)
	for _, n := range env.nodes {
		t.Run(n.name, func(t *testing.T) {
			for _, w := range portholeWires {
				c := direct(harness.Kubectl{}, w, n, t.TempDir())
				c.porthole = true
				t.Run(w.Name, func(t *testing.T) {
					t.Run("exec", c.testExec)
					t.Run("tty-resize", c.testTTYResize)
					t.Run("attach", c.testAttach)
					t.Run("cp", c.testCopy)
					t.Run("port-forward", c.testPortForward)
					t.Run("unknown-container", c.testUnknownContainer)
					t.Run("forbidden", c.testForbidden)
				})
			}
			for name, kubeconfig := range map[string]string{"client-cert": env.certKubeconfig, "exec-plugin": plugin} {
				t.Run("exec-"+name, func(t *testing.T) {
					r := porthole(t, kubeconfig, nil, "exec", n.pod("exec"), "-c", "main", "--", "sh", "-c", "echo out; echo to-stderr >&2; exit 4")
					// As kubectl says it.
					if r.code != 4 || string(r.stdout) != "out\n" || string(r.stderr) != "to-stderr\ncommand terminated with exit code 4\n" {
						t.Errorf("exit code %d, stdout %q, stderr %q", r.code, r.stdout, tail(r.stderr))
					}
				})
			}
		})
	}
}

// pluginKubeconfig writes a kubeconfig whose credential comes from an exec
// plugin (client.authentication.k8s.io/v1) printing the admin token.
func pluginKubeconfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "credential-plugin")
	cred := `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"` + harness.AdminToken + `"}}`
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '"+cred+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: env.cp.URL, CertificateAuthorityData: env.cp.CA.CertPEM}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1", Command: script, InteractiveMode: clientcmdapi.NeverExecInteractiveMode}}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: "default"}
	cfg.CurrentContext = "x"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
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
