package kubectl

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// testCopy runs kubectl cp both ways (tar over exec, PROTOCOL.md 12.3). The
// pod's filesystem is this machine's, so the test checks the files
// directly. Local to pod streams a tar on stdin and needs the half-close
// for tar to finish; pod to local reads tar from stdout.
func (c *client) testCopy(t *testing.T) {
	dir := t.TempDir()
	t.Run("to-pod", func(t *testing.T) {
		dest := filepath.Join(dir, "in-pod.bin")
		r := c.run(t, nil, nil, nil, "cp", env.Input.Path, harness.PodExec+":"+dest)
		if r.code != 0 {
			t.Fatalf("kubectl cp: exit code %d (stderr: %s)", r.code, tail(r.stderr))
		}
		checkFile(t, dest, env.Input)
	})
	t.Run("from-pod", func(t *testing.T) {
		dest := filepath.Join(dir, "from-pod.bin")
		r := c.run(t, nil, nil, nil, "cp", harness.PodExec+":"+env.Input.Path, dest)
		if r.code != 0 {
			t.Fatalf("kubectl cp: exit code %d (stderr: %s)", r.code, tail(r.stderr))
		}
		checkFile(t, dest, env.Input)
	})
}

func checkFile(t *testing.T, path string, want *harness.DataFile) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("copied file: %v", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != want.Size || got != want.SHA256 {
		t.Errorf("%s: got %d bytes sha256 %s, want %d bytes sha256 %s", path, n, got, want.Size, want.SHA256)
	}
}
