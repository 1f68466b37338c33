package kubectl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// workloadsManifest is a Deployment of one pod running porthole's demo web
// server, which answers with its pod's name, and a Service in front of it
// whose port "web" targets the container port named "http".
const workloadsManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: porthole/local
        command: [%q, demo-web, --listen, "127.0.0.1:%d", --say, "$HOSTNAME"]
        ports:
        - {name: http, containerPort: %d}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: web, port: 80, targetPort: http}
`

// followWait bounds how long a forward may take to reach a replacement pod;
// slack for a loaded machine, not the expected time.
const followWait = 60 * time.Second

// TestWorkloads: porthole serve runs a Deployment and a Service from its
// manifest. kubectl 1.27, 1.33 and 1.37 (those installed) and porthole's
// client exec into deploy/web and port-forward svc/web through the
// Service's named port to the container's named port; then, with
// porthole's forward running, `kubectl delete pod` removes the pod, the
// Deployment replaces it under a new name, and new connections through the
// same local port reach the replacement (kubectl's forward does not
// survive this; porthole's must).
func TestWorkloads(t *testing.T) {
	if target := os.Getenv(harness.TargetEnv); target != "" && target != "porthole" {
		t.Skipf("%s=%s: the reference server serves pods only; workloads are porthole serve's", harness.TargetEnv, target)
	}
	ctx := t.Context()
	port := freeLoopbackPort(t)
	dir := t.TempDir()
	srv, err := harness.StartServerWith(ctx, env.Porthole, dir, fmt.Sprintf(workloadsManifest, env.Porthole, port, port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop serve: %v", err)
		}
	})
	newest := env.Kubectls[len(env.Kubectls)-1]
	kubectl := func(t *testing.T, k harness.Kubectl, args ...string) (string, string) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := k.Command(cctx, k.Wires()[0], t.TempDir(), srv.Kubeconfig, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v; stderr %q", k.Name(), strings.Join(args, " "), err, errb.String())
		}
		return out.String(), errb.String()
	}
	// webPod waits for the Deployment's one running, ready pod, other than
	// not, and returns its name.
	webPod := func(t *testing.T, not string) string {
		t.Helper()
		deadline := time.Now().Add(followWait)
		for {
			out, _ := kubectl(t, newest, "get", "pods", "-l", "app=web", "-o",
				`jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if f := strings.Fields(line); len(f) == 3 && f[0] != not && f[1] == "Running" && f[2] == "True" {
					return f[0]
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ready pod of deploy/web but %q: %q", not, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first := webPod(t, "")

	for _, k := range env.Kubectls {
		if k.Minor != 27 && k.Minor != 33 && k.Minor != 37 {
			continue
		}
		t.Run(k.Name(), func(t *testing.T) {
			out, _ := kubectl(t, k, "exec", "deploy/web", "--", "sh", "-c", "echo $HOSTNAME")
			if out != first+"\n" {
				t.Errorf("exec deploy/web: %q, want %q", out, first)
			}
			pf := startForward(t, exec.CommandContext(ctx, k.Path, "port-forward", "--address", "127.0.0.1", "svc/web", ":web"),
				k.Command(ctx, k.PortForwardWires()[0], t.TempDir(), srv.Kubeconfig).Env)
			if got := pf.get(t); got != first {
				t.Errorf("GET through svc/web: %q, want %q", got, first)
			}
		})
	}

	t.Run("porthole", func(t *testing.T) {
		porthole := func(args ...string) *exec.Cmd {
			cmd := exec.CommandContext(ctx, env.Porthole, append([]string{args[0], "--kubeconfig", srv.Kubeconfig}, args[1:]...)...)
			cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "LANG=C"}
			return cmd
		}
		out, err := porthole("exec", "deploy/web", "--", "sh", "-c", "echo $HOSTNAME").Output()
		if err != nil || string(out) != first+"\n" {
			t.Errorf("porthole exec deploy/web: %q, %v; want %q", out, err, first)
		}
		cmd := porthole("port-forward", "--address", "127.0.0.1", "svc/web", ":web")
		pf := startForward(t, cmd, cmd.Env)
		if got := pf.get(t); got != first {
			t.Fatalf("GET through svc/web: %q, want %q", got, first)
		}
		kubectl(t, newest, "delete", "pod", first)
		next := webPod(t, first)
		deadline := time.Now().Add(followWait)
		for got := ""; got != next; {
			got, err = pf.tryGet()
			if time.Now().After(deadline) {
				t.Fatalf("the forward never reached %s (last %q, %v); stdout %q, stderr %q", next, got, err, pf.Stdout, pf.Stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Said before the answer came, but copied into the buffer by
		// os/exec's goroutine, maybe not yet.
		gone := "pod " + first + " is gone ("
		pf.Stderr.Await(gone, followWait)
		if strings.Count(pf.Stderr.String(), gone) != 1 {
			t.Errorf("stderr should say %q once: %q", gone, pf.Stderr)
		}
	})
}

// forward is a running port-forward (kubectl's or porthole's) of a web
// server.
type forward struct{ *harness.Forward }

// startForward runs cmd with env and waits for it to forward.
func startForward(t *testing.T, cmd *exec.Cmd, env []string) forward {
	t.Helper()
	cmd.Env = env
	return forward{harness.StartForward(t, cmd)}
}

func (f forward) tryGet() (string, error) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + f.Addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSuffix(string(b), "\n"), err
}

func (f forward) get(t *testing.T) string {
	t.Helper()
	got, err := f.tryGet()
	if err != nil {
		t.Fatalf("GET through the forward: %v; stderr %q", err, f.Stderr)
	}
	return got
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
