package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// kubectl runs a kubectl binary against the server of kubeconfig, with its
// own HOME and discovery cache so runs do not share state.
type kubectl struct {
	bin, kubeconfig, home string
}

func (k kubectl) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return k.runIn(t, "", args...)
}

// runIn is run with stdin.
func (k kubectl) runIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.home, "cache")}, args...)
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = []string{"HOME=" + k.home, "PATH=" + os.Getenv("PATH")}
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run %s: %v", k.bin, err)
	}
	return out.String(), errOut.String(), code
}

// expect runs kubectl and requires it to exit 0 printing exactly want.
func (k kubectl) expect(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errOut, code := k.run(t, args...)
	if code != 0 || out != want {
		t.Fatalf("%s: exit %d %q %s, want %q", strings.Join(args, " "), code, out, errOut, want)
	}
}

// expectError runs kubectl and fails t unless it exits 1 with want in
// its stderr.
func (k kubectl) expectError(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errOut, code := k.run(t, args...)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("%s: exit %d %q %q, want exit 1 and %q", strings.Join(args, " "), code, out, errOut, want)
	}
}

// eachKubectl runs test once for each packaged kubectl, as subtests named
// by its version, against one serve: k runs that kubectl, and name is
// prefix and the version's digits, for a namespace or object of its own.
func eachKubectl(t *testing.T, prefix string, test func(t *testing.T, k kubectl, name string)) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	kc := startKubectlServer(t)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			test(t, kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}, prefix+strings.ReplaceAll(v, ".", ""))
		})
	}
}

// startKubectlServer runs the default server (the demo pod on the local
// runtime) and waits until the demo pod is Running.
func startKubectlServer(t *testing.T) string {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	s, _ := startServer(t, Options{KubeconfigPath: kc})
	waitDemo(t, s)
	return kc
}

// waitDemo waits until the demo pod is Running: the local runtime starts
// the container asynchronously; the wait is bounded by the test's
// deadline, not a fixed delay.
func waitDemo(t *testing.T, s *Server) {
	t.Helper()
	for {
		_, body := get(t, s.URL()+"/api/v1/namespaces/default/pods/demo")
		var p kube.Pod
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("get demo: %v: %s", err, body)
		}
		if p.Status.Phase == "Running" {
			return
		}
		time.Sleep(10 * time.Millisecond) // polling a state, not ordering events
	}
}

// TestKubectl runs every real kubectl release on this machine against the
// server: discovery, get in table, JSON and YAML forms, errors, version.
func TestKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	kc := startKubectlServer(t)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			bin := kubectlBin(t, v)
			k := kubectl{bin: bin, kubeconfig: kc, home: t.TempDir()}
			testKubectlGet(t, k)
		})
	}
}

func testKubectlGet(t *testing.T, k kubectl) {
	out, errOut, code := k.run(t, "get", "pods")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME READY STATUS RESTARTS AGE" {
		t.Fatalf("get pods: exit %d\n%s%s", code, out, errOut)
	}
	if f := strings.Fields(lines[1]); len(f) != 5 || f[0] != "demo" || f[1] != "1/1" || f[2] != "Running" || f[3] != "0" {
		t.Errorf("get pods row: %q", lines[1])
	}

	out, errOut, code = k.run(t, "get", "pods", "-o", "wide", "--all-namespaces")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAMESPACE NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES" {
		t.Fatalf("get pods -o wide -A: exit %d\n%s%s", code, out, errOut)
	}
	if f := strings.Fields(lines[1]); len(f) != 10 || f[0] != "default" || f[6] != "127.0.0.1" || f[7] != "porthole" {
		t.Errorf("get pods -o wide -A row: %q", lines[1])
	}

	out, errOut, code = k.run(t, "get", "pod", "demo", "-o", "json")
	var p kube.Pod
	if code != 0 {
		t.Fatalf("get pod -o json: exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("get pod -o json: %v\n%s", err, out)
	}
	if p.Name != "demo" || len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Name != "shell" || !p.Spec.Containers[0].Stdin {
		t.Errorf("get pod -o json: %+v", p)
	}

	out, _, code = k.run(t, "get", "pod", "demo", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "\n  name: demo\n") || !strings.Contains(out, "phase: Running") {
		t.Errorf("get pod -o yaml: exit %d\n%s", code, out)
	}

	out, errOut, code = k.run(t, "get", "pods", "nonexistent")
	if want := `Error from server (NotFound): pods "nonexistent" not found`; code != 1 || strings.TrimSpace(errOut) != want {
		t.Errorf("get pods nonexistent: exit %d, stderr %q; want 1, %q", code, errOut, want)
	}

	out, errOut, code = k.run(t, "get", "ns")
	if code != 0 || !strings.Contains(out, "default ") || !strings.Contains(out, "kube-system ") || !strings.Contains(out, "Active") {
		t.Errorf("get ns: exit %d\n%s%s", code, out, errOut)
	}

	out, errOut, code = k.run(t, "api-resources")
	if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), " "), "pods po v1 true Pod") {
		t.Errorf("api-resources: exit %d\n%s%s", code, out, errOut)
	}

	out, errOut, code = k.run(t, "version")
	if code != 0 || !strings.Contains(out, "v1.33.0-porthole") {
		t.Errorf("version: exit %d\n%s%s", code, out, errOut)
	}

	// kubectl debug reads the pod's security context, which the API
	// server always fills, without checking; it panicked on porthole's
	// pods before they had one. Without -i it adds the ephemeral
	// container and leaves (the interop suite attaches to one).
	dbg := "debug-" + strings.ReplaceAll(strings.TrimPrefix(filepath.Base(k.bin), "kubectl."), ".", "-")
	out, errOut, code = k.run(t, "debug", "demo", "--image=busybox", "-c", dbg, "--", "sh", "-c", "exit 4")
	if code != 0 || strings.Contains(errOut, "panic") {
		t.Fatalf("debug: exit %d, stdout %q, stderr %q; want 0", code, out, errOut)
	}
	jp := `jsonpath={.spec.ephemeralContainers[?(@.name=="` + dbg + `")].command}`
	if out, errOut, code = k.run(t, "get", "pod", "demo", "-o", jp); code != 0 || out != `["sh","-c","exit 4"]` {
		t.Errorf("the debug container: exit %d, %q %s", code, out, errOut)
	}
}

// TestKubectlDispatcher: the machine's kubectl dispatcher picks a real
// client for the version the server reports, without skew warnings. The
// dispatcher is the machine's packaging, not a peer CI can install, so it
// is skipped where absent even under PORTHOLE_PEERS=require.
func TestKubectlDispatcher(t *testing.T) {
	bin := filepath.Join(defaultKubectlDir, "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no kubectl dispatcher: %v", err)
	}
	kc := startKubectlServer(t)
	k := kubectl{bin: bin, kubeconfig: kc, home: t.TempDir()}
	out, errOut, code := k.run(t, "version")
	if code != 0 || !strings.Contains(out, "Client Version: v1.33.") || errOut != "" {
		t.Errorf("version via dispatcher: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = k.run(t, "get", "pods")
	if code != 0 || !strings.Contains(out, "Running") || errOut != "" {
		t.Errorf("get pods via dispatcher: exit %d\n%s%s", code, out, errOut)
	}
}

// TestKubectlExec: plain `kubectl exec` (WebSocket, SPDY fallback) reaches
// the node and the local runtime end to end.
func TestKubectlExec(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	kc := startKubectlServer(t)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			bin := kubectlBin(t, v)
			k := kubectl{bin: bin, kubeconfig: kc, home: t.TempDir()}
			out, errOut, code := k.run(t, "exec", "demo", "--", "sh", "-c", "echo hello; echo oops >&2; exit 3")
			if out != "hello\n" || code != 3 || !strings.Contains(errOut, "oops\n") {
				t.Errorf("exec: exit %d, stdout %q, stderr %q; want 3, \"hello\\n\", oops", code, out, errOut)
			}
			// A long command line (a script passed inline): 3 arguments of
			// 100 KB, a 300 KB URL, as the API server and the kubelet take
			// (their limit on a request's head is 1 MiB).
			long := strings.Repeat("x", 100_000)
			out, errOut, code = k.run(t, "exec", "demo", "--", "sh", "-c", `echo $((${#1} + ${#2} + ${#3}))`, "sh", long, long, long)
			if out != "300000\n" || code != 0 {
				t.Errorf("exec with a 300 KB command line: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			in := strings.Repeat("stdin line\n", 10000)
			out, errOut, code = k.runIn(t, in, "exec", "-i", "demo", "--", "cat")
			if code != 0 || out != in {
				t.Errorf("exec -i cat: exit %d, %d bytes back of %d; stderr %q", code, len(out), len(in), errOut)
			}
		})
	}
}

// TestKubectlAttach: `kubectl attach -i demo` reaches the demo's shell:
// a command written to stdin runs and its output comes back; closing
// stdin detaches with exit 0 and leaves the shell running.
func TestKubectlAttach(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	kc := startKubectlServer(t)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			bin := kubectlBin(t, v)
			home := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--kubeconfig", kc, "--cache-dir", filepath.Join(home, "cache"), "attach", "-i", "demo")
			cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			marker := "attached-" + v
			if _, err := io.WriteString(stdin, "echo "+marker+"\n"); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			found := false
			for !found && sc.Scan() {
				found = sc.Text() == marker
			}
			stdin.Close()
			io.Copy(io.Discard, stdout)
			err = cmd.Wait()
			if !found {
				t.Fatalf("no %q on stdout; kubectl: %v, stderr %s", marker, err, stderr.String())
			}
			if err != nil {
				t.Errorf("kubectl attach: %v, stderr %s", err, stderr.String())
			}
		})
	}
	// The shell survived every detach.
	k := kubectl{bin: kubectlBin(t, "1.33"), kubeconfig: kc, home: t.TempDir()}
	out, errOut, code := k.run(t, "exec", "demo", "--", "echo", "still")
	if code != 0 || out != "still\n" {
		t.Errorf("exec after attach: exit %d, %q %q", code, out, errOut)
	}
	out, _, _ = k.run(t, "get", "pod", "demo", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
	if out != "0" {
		t.Errorf("restartCount after attach = %q, want 0", out)
	}
}

// TestKubectlRun: kubectl run creates a bare pod that runs its args;
// run -i --rm attaches, its stdin reaching the container, exits with the
// container's code and deletes the pod.
func TestKubectlRun(t *testing.T) {
	eachKubectl(t, "run-", func(t *testing.T, k kubectl, name string) {
		out, errOut, code := k.runIn(t, "there\n", "run", name, "--image=busybox", "--restart=Never", "-i", "--rm", "--", "sh", "-c", "read line; echo hello $line; exit 3")
		if code != 3 || !strings.HasPrefix(out, "hello there\n") || !strings.Contains(out, `pod "`+name+`" deleted`) {
			t.Errorf("run -i --rm: exit %d %q %q, want 3, hello there and the pod deleted", code, out, errOut)
		}
		if out, errOut, code := k.run(t, "get", "pod", name); code != 1 || !strings.Contains(errOut, `pods "`+name+`" not found`) {
			t.Errorf("after run --rm: exit %d %q %q, want the pod gone", code, out, errOut)
		}
		if out, errOut, code := k.run(t, "run", name, "--image=busybox", "--", "sleep", "infinity"); code != 0 || out != "pod/"+name+" created\n" {
			t.Fatalf("run: exit %d %q %q", code, out, errOut)
		}
		if out, errOut, code := k.run(t, "wait", "--for=condition=Ready", "pod/"+name, "--timeout=30s"); code != 0 {
			t.Fatalf("wait: exit %d %q %q", code, out, errOut)
		}
		if out, errOut, code := k.run(t, "exec", name, "--", "echo", "in "+name); code != 0 || out != "in "+name+"\n" {
			t.Errorf("exec: exit %d %q %q", code, out, errOut)
		}
		if out, errOut, code := k.run(t, "run", name, "--image=busybox"); code != 1 || !strings.Contains(errOut, `pods "`+name+`" already exists`) {
			t.Errorf("run again: exit %d %q %q, want AlreadyExists", code, out, errOut)
		}
		if out, errOut, code := k.run(t, "delete", "pod", name, "--grace-period=1"); code != 0 || out != `pod "`+name+`" deleted`+"\n" {
			t.Errorf("delete: exit %d %q %q", code, out, errOut)
		}
	})
}
