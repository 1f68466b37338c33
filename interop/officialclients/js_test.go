package officialclients

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// needJS makes sure the JavaScript client is installed in js/ exactly as
// its lockfile pins it (npm ci), or skips (fails under PORTHOLE_PEERS=require).
func needJS(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("js/node_modules/@kubernetes/client-node/package.json"); err == nil {
		return
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = "js"
	if out, err := cmd.CombinedOutput(); err != nil {
		harness.MissingPeer(t, "the official JavaScript client could not be installed (npm ci in js/): %v\n%s", err, out)
	}
}

// TestJSExecBigStdin: the JavaScript client sends stdin of 2, 8 and
// 32 MiB as one message each; the pod hashes exactly what arrived, and
// the client gets the exit code 3 in the status.
func TestJSExecBigStdin(t *testing.T) {
	needJS(t)
	kc := env.Server.Kubeconfig // HTTPS with serve's authority and token, unchanged
	for _, size := range []int{2 << 20, 8 << 20, 32<<20 - 1} {
		t.Run(strconv.Itoa(size)+"B", func(t *testing.T) {
			jsExec(t, kc, size)
		})
	}
}

// jsExec runs exec.js against the server of kubeconfig with size bytes of
// stdin in one chunk, and checks the pod's hash of them, its stderr and
// the exit code 3 in the status.
func jsExec(t *testing.T, kubeconfig string, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("js", "exec.js"), kubeconfig, "default", harness.PodExec, harness.ContainerMain, strconv.Itoa(size))
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("js client: %v\n%s%s", err, out, stderr.String())
	}
	var got struct {
		Stdout, Stderr, Error string
		Status                struct {
			Status, Reason string
			Details        struct {
				Causes []struct{ Reason, Message string }
			}
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("js client printed %q: %v", out, err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:]) + "  -\n"
	code := ""
	for _, c := range got.Status.Details.Causes {
		if c.Reason == "ExitCode" {
			code = c.Message
		}
	}
	if got.Error != "" || got.Stdout != want || strings.TrimSpace(got.Stderr) != "done" || got.Status.Reason != "NonZeroExitCode" || code != "3" {
		t.Errorf("got %s; want stdout %q, stderr done, exit code 3", out, want)
	}
}
