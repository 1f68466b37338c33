package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// testCopy runs kubectl cp both ways through the gateway: tar on stdin
// ending with the half-close, and tar on stdout. The pod's filesystem is
// this machine's.
func (c *client) testCopy(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, src, dest string }{
		{"to-pod", env.Input.Path, harness.PodExec + ":" + filepath.Join(dir, "in-pod.bin")},
		{"from-pod", harness.PodExec + ":" + env.Input.Path, filepath.Join(dir, "from-pod.bin")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errOut bytes.Buffer
			if code := c.run(t, nil, nil, &errOut, "cp", tc.src, tc.dest); code != 0 {
				t.Fatalf("kubectl cp: exit code %d (stderr: %s)", code, tail(errOut.String()))
			}
			path := tc.dest
			if tc.name == "to-pod" {
				path = filepath.Join(dir, "in-pod.bin")
			}
			checkFile(t, path, env.Input)
		})
	}
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
