package officialclients

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// python is Debian's interpreter, where python3-kubernetes is installed
// (the python3 on PATH may be another one).
const python = "/usr/bin/python3"

func needPython(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import kubernetes").Run(); err != nil {
		harness.MissingPeer(t, "the official Python client (Debian's python3-kubernetes) is not installed: %v", err)
	}
}

// TestPythonExecBigStdin: the Python client writes stdin of 2, 8 and
// 32 MiB as one message each; the pod hashes exactly what arrived, and
// the client reads the remote exit code 3.
func TestPythonExecBigStdin(t *testing.T) {
	needPython(t)
	for _, size := range []int{2 << 20, 8 << 20, 32<<20 - 1} {
		t.Run(strconv.Itoa(size)+"B", func(t *testing.T) {
			pythonExec(t, env.Server.Kubeconfig, size)
		})
	}
}

// pythonExec runs exec.py against the server of kubeconfig with size bytes
// of stdin in one write, and checks the pod's hash of them, its stderr and
// the exit code 3.
func pythonExec(t *testing.T, kubeconfig string, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "exec.py", kubeconfig, "default", harness.PodExec, strconv.Itoa(size))
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, stderr.String())
	}
	var got struct {
		Stdout, Stderr string
		Returncode     *int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python client printed %q: %v", out, err)
	}
	pattern := []byte("0123456789abcdef")
	data := append(bytes.Repeat(pattern, size/16), pattern[:size%16]...)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:]) + "  -\n"
	if got.Stdout != want || strings.TrimSpace(got.Stderr) != "done" || got.Returncode == nil || *got.Returncode != 3 {
		t.Errorf("stdout %q stderr %q returncode %v; want %q, done, 3", got.Stdout, got.Stderr, got.Returncode, want)
	}
}
