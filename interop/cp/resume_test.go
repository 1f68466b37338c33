package cp

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/kube"
)

// cutBytes is where the flaky tar dies: not a block boundary, in the middle
// of the file's data.
const cutBytes = 3<<20 + 1234

// flakyTar is the pod's tar: the first run after the marker directory is
// removed streams cutBytes of the real archive and dies (exit 1, as a tar
// killed mid-way would end); later runs are the real tar.
const flakyTar = `#!/bin/sh
if mkdir "$CUT_STATE/cut" 2>/dev/null; then
	"$REAL_TAR" "$@" | head -c %d
	exit 1
fi
exec "$REAL_TAR" "$@"
`

// TestCopyResume: a download whose remote tar dies mid-way resumes with
// --retries where it stopped (tail -c+N in the pod) and arrives whole;
// without --retries it fails, exits non-zero and leaves no partial file.
func TestCopyResume(t *testing.T) {
	realTar, err := exec.LookPath("tar")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, state := filepath.Join(dir, "bin"), filepath.Join(dir, "state")
	for _, d := range []string{bin, state} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "tar"), []byte(fmt.Sprintf(flakyTar, cutBytes)), 0o755); err != nil {
		t.Fatal(err)
	}
	kc := servePods(t, []*kube.Pod{fakeTarPod("flaky", bin,
		kube.EnvVar{Name: "CUT_STATE", Value: state}, kube.EnvVar{Name: "REAL_TAR", Value: realTar})})
	src, err := harness.WriteDataFile(filepath.Join(dir, "data.bin"), 8*harness.MiB, 3)
	if err != nil {
		t.Fatal(err)
	}
	rearm := func() {
		if err := os.RemoveAll(filepath.Join(state, "cut")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("retries", func(t *testing.T) {
		rearm()
		dest := filepath.Join(t.TempDir(), "data.bin")
		r := mustCP(t, kc, "--retries", "3", "flaky:"+src.Path, dest)
		if got := fileSum(t, dest); got != src.SHA256 {
			t.Errorf("sha256 %s, want %s", got, src.SHA256)
		}
		if want := fmt.Sprintf("Resuming copy at %d bytes, retry 1/3\n", cutBytes); !strings.Contains(r.stdout, want) {
			t.Errorf("stdout %q: want %q", r.stdout, want)
		}
		if _, err := os.Stat(filepath.Join(state, "cut")); err != nil {
			t.Errorf("the flaky tar never cut the stream: %v", err)
		}
	})
	t.Run("unlimited", func(t *testing.T) {
		rearm()
		dest := filepath.Join(t.TempDir(), "data.bin")
		r := mustCP(t, kc, "--retries=-1", "flaky:"+src.Path, dest)
		if got := fileSum(t, dest); got != src.SHA256 {
			t.Errorf("sha256 %s, want %s", got, src.SHA256)
		}
		if want := fmt.Sprintf("Resuming copy at %d bytes, retry 1/-1\n", cutBytes); !strings.Contains(r.stdout, want) {
			t.Errorf("stdout %q: want %q", r.stdout, want)
		}
	})
	t.Run("no-retries", func(t *testing.T) {
		rearm()
		destDir := t.TempDir()
		dest := filepath.Join(destDir, "data.bin")
		r := runCP(t, kc, "flaky:"+src.Path, dest)
		if r.code == 0 {
			t.Fatalf("a cut stream without --retries exited 0 (stdout %q)", r.stdout)
		}
		if !strings.Contains(r.stderr, "error: ") {
			t.Errorf("stderr %q: want the broken stream explained", r.stderr)
		}
		if entries, _ := os.ReadDir(destDir); len(entries) != 0 {
			t.Errorf("left behind %v, want nothing (never a partial file)", entries)
		}
	})
}
