// Package official drives the official Kubernetes clients, the Python
// client from Debian's python3-kubernetes and the JavaScript client from
// npm, through the scripts in interop/officialclients, and checks what they
// saw: the pod's hash of a stdin sent in one write and the exit code, an
// attach that reads its line back, a tty resized the client's own way, and
// a port-forward's echoed bytes. The officialclients suite runs them
// against porthole serve, the apiserver suite through a real API server to
// porthole's node.
package official

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// python is Debian's interpreter, where python3-kubernetes is installed
// (the python3 on PATH may be another one).
const python = "/usr/bin/python3"

// Target is where a client acts: the server of Kubeconfig, and a pod.
type Target struct {
	Kubeconfig, Namespace, Pod, Container string
}

// Client is one official client.
type Client struct {
	Name string
	// V is the WebSocket version it speaks for exec and attach.
	V string
}

// Clients are the official clients: Python (WebSocket v4 only) and
// JavaScript (v5 first).
func Clients() []Client {
	return []Client{{Name: "python", V: "v4.channel.k8s.io"}, {Name: "javascript", V: "v5.channel.k8s.io"}}
}

// scripts is interop/officialclients, where the scripts and the JavaScript
// client's lockfile live.
func scripts() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "officialclients")
}

// Need skips t (fails it under PORTHOLE_PEERS=require) when the client is
// not installed. The JavaScript client is installed in place from its
// lockfile (npm ci) if `make interop-deps` has not done it, under a lock,
// since several suites may ask at once.
func (c Client) Need(t testing.TB) {
	t.Helper()
	if c.Name == "python" {
		if err := exec.Command(python, "-c", "import kubernetes").Run(); err != nil {
			harness.MissingPeer(t, "the official Python client (Debian's python3-kubernetes) is not installed: %v", err)
		}
		return
	}
	js := filepath.Join(scripts(), "js")
	installed := filepath.Join(js, "node_modules", "@kubernetes", "client-node", "package.json")
	if _, err := os.Stat(installed); err == nil {
		return
	}
	lock, err := os.OpenFile(filepath.Join(js, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(installed); err == nil {
		return // installed while we waited
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = js
	if out, err := cmd.CombinedOutput(); err != nil {
		harness.MissingPeer(t, "the official JavaScript client could not be installed (npm ci in %s): %v\n%s", js, err, out)
	}
}

// command is the client's script for name ("exec" or "stream") with args
// after the target.
func (c Client) command(ctx context.Context, script string, tg Target, args ...string) *exec.Cmd {
	dir := scripts()
	if c.Name == "python" {
		// The Python scripts take no container: the pods have one.
		return exec.CommandContext(ctx, python, append([]string{filepath.Join(dir, script+".py"), tg.Kubeconfig, tg.Namespace, tg.Pod}, args...)...)
	}
	return exec.CommandContext(ctx, "node", append([]string{filepath.Join(dir, "js", script+".js"), tg.Kubeconfig, tg.Namespace, tg.Pod, tg.Container}, args...)...)
}

// run runs the script and decodes the JSON line it prints into v.
func (c Client) run(t testing.TB, v any, timeout time.Duration, script string, tg Target, args ...string) {
	t.Helper()
	c.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := c.command(ctx, script, tg, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s client: %v\n%s%s", c.Name, err, out, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s client printed %q: %v", c.Name, out, err)
	}
}

// result is what the scripts print; each fills its part.
type result struct {
	Stdout, Stderr, Error string
	Returncode            *int // Python
	Status                struct {
		Reason  string
		Details struct {
			Causes []struct{ Reason, Message string }
		}
	} // JavaScript: the status from the error channel
}

// exitCode is the remote exit code the client reported, or -1. A status
// counts only with the reason NonZeroExitCode.
func (r result) exitCode() int {
	if r.Returncode != nil {
		return *r.Returncode
	}
	if r.Status.Reason != "NonZeroExitCode" {
		return -1
	}
	for _, c := range r.Status.Details.Causes {
		if c.Reason == "ExitCode" {
			if n, err := strconv.Atoi(c.Message); err == nil {
				return n
			}
		}
	}
	return -1
}

// Exec runs `head -c size | sha256sum; echo done >&2; exit 3` in the pod
// with size bytes of stdin written in one call (one WebSocket message), and
// checks the hash, stderr and exit code 3.
func (c Client) Exec(t testing.TB, tg Target, size int) {
	t.Helper()
	var got result
	c.run(t, &got, 3*time.Minute, "exec", tg, strconv.Itoa(size))
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:]) + "  -\n"
	if got.Error != "" || got.Stdout != want || strings.TrimSpace(got.Stderr) != "done" || got.exitCode() != 3 {
		t.Errorf("%s exec: %+v; want stdout %q, stderr done, exit code 3", c.Name, got, want)
	}
}

// Attach attaches to the pod (running cat), writes a unique line and reads
// it back.
func (c Client) Attach(t testing.TB, tg Target) {
	t.Helper()
	line := "attached-" + c.Name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var got result
	c.run(t, &got, 2*time.Minute, "stream", tg, "attach", line)
	if got.Error != "" || !strings.Contains(got.Stdout, line) {
		t.Errorf("%s attach: %+v, want stdout with %q", c.Name, got, line)
	}
}

// TTYResize opens a tty exec of sh in the pod, sets the terminal to 100x40
// the client's own way (Python on channel 4, JavaScript from a stdout with
// rows and columns), and checks that stty reports it and the exit code 5.
func (c Client) TTYResize(t testing.TB, tg Target) {
	t.Helper()
	var got result
	c.run(t, &got, 2*time.Minute, "stream", tg, "tty")
	if got.Error != "" || !strings.Contains(got.Stdout, "40 100\r\n") || got.exitCode() != 5 {
		t.Errorf("%s tty: error %q, exit %d, stdout %q; want 40 100 from stty and exit 5", c.Name, got.Error, got.exitCode(), got.Stdout)
	}
}

// PortForward forwards port of the pod, where an echo server listens,
// sends n bytes and checks that every one came back. echoed, when not
// nil, describes the echo server's side for the failure message.
func (c Client) PortForward(t testing.TB, tg Target, port, n int, echoed func() string) {
	t.Helper()
	var got struct {
		Bytes  int
		Sha256 string
		Error  *string
	}
	c.run(t, &got, 2*time.Minute, "stream", tg, "portforward", strconv.Itoa(n), strconv.Itoa(port))
	data := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	sum := sha256.Sum256(data)
	if got.Bytes != n || got.Sha256 != hex.EncodeToString(sum[:]) || (got.Error != nil && *got.Error != "") {
		errText, side := "", ""
		if got.Error != nil {
			errText = *got.Error
		}
		if echoed != nil {
			side = echoed()
		}
		t.Errorf("%s port-forward: %d bytes, sha256 %s, error %q; want %d bytes of sha256 %x (echo server: %s)", c.Name, got.Bytes, got.Sha256, errText, n, sum, side)
	}
}

// API runs the client's calls around a session against the server of tg
// (its script's docs list them) with a pod and a deployment named name,
// and checks each answer: discovery, a pod created without kind or
// apiVersion, a watch that sees it run, its log followed, a deployment's
// scale and status, and the deletes (Python's of a collection too).
func (c Client) API(t testing.TB, tg Target, name string) {
	t.Helper()
	var got struct {
		Version          string
		Core             []string
		Groups           []string
		Resources        []string
		Created          string
		Watched          []string
		Log              string
		Scaled           *int   `json:"scaled"`
		DeploymentStatus string `json:"deployment_status"`
		Collected        string
		Left             *int
		Applied          []string
		Paged            []string
		Secret           string
		Deleted          string
		Error            string
	}
	tg.Pod = name
	c.run(t, &got, 2*time.Minute, "api", tg)
	if got.Error != "" {
		t.Fatalf("%s: %s (after %+v)", c.Name, got.Error, got)
	}
	check := func(what string, ok bool, v any) {
		if !ok {
			t.Errorf("%s %s: %v", c.Name, what, v)
		}
	}
	check("version", strings.HasPrefix(got.Version, "v1."), got.Version)
	if c.Name == "python" {
		check("core API versions", slices.Contains(got.Core, "v1"), got.Core)
		check("API groups", slices.Contains(got.Groups, "apps"), got.Groups)
		check("core resources", slices.Contains(got.Resources, "pods/exec") && slices.Contains(got.Resources, "pods/log"), got.Resources)
		check("scale", got.Scaled != nil && *got.Scaled == 2, got.Scaled)
		check("delete collection", got.Collected == "ConfigMapList" && got.Left != nil && *got.Left == 0, fmt.Sprint(got.Collected, got.Left))
	}
	check("created", got.Created == "Pod", got.Created)
	check("watch", len(got.Watched) > 0 &&
		strings.HasSuffix(got.Watched[len(got.Watched)-1], " Running") && strings.HasPrefix(got.Watched[0], "ADDED "), got.Watched)
	check("log", got.Log == "line1\nline2\nline3\n", fmt.Sprintf("%q", got.Log))
	check("deployment status", got.DeploymentStatus == "Deployment", got.DeploymentStatus)
	want := []string{"a,b", "c"} // name-a, -b, -c; for python name (=), -b, -c
	if c.Name == "python" {
		want = []string{"=,-b", "-c"}
	}
	check("a list in pages", slices.Equal(got.Paged, want), got.Paged)
	// Applied, applied without b, refused (another manager set a),
	// forced.
	check("server-side apply", slices.Equal(got.Applied, []string{`{"a":"1","b":"2"}`, `{"a":"1"}`,
		`409 Apply failed with 1 conflict: conflict with "other" using v1: .data.a`, `{"a":"1"}`}), got.Applied)
	check("secret", got.Secret == "kubernetes.io/basic-auth s3cr3t None", got.Secret)
	check("deleted", got.Deleted == name, got.Deleted)
}
