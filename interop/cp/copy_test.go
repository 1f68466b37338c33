package cp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestCopyBigFile: 200 MiB to the harness's server and back, sha256
// compared on both sides (the pod's filesystem is this machine's).
func TestCopyBigFile(t *testing.T) {
	dir := t.TempDir()
	src, err := harness.WriteDataFile(filepath.Join(dir, "big.bin"), 200*harness.MiB, 7)
	if err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(dir, "in-pod.bin")
	mustCP(t, env.Server.Kubeconfig, src.Path, harness.PodExec+":"+remote)
	if got := fileSum(t, remote); got != src.SHA256 {
		t.Fatalf("in the pod: sha256 %s, want %s", got, src.SHA256)
	}
	back := filepath.Join(dir, "back.bin")
	mustCP(t, env.Server.Kubeconfig, harness.Namespace+"/"+harness.PodExec+":"+remote, back)
	if got := fileSum(t, back); got != src.SHA256 {
		t.Fatalf("back: sha256 %s, want %s", got, src.SHA256)
	}
}

// TestCopyTree: a tree with empty files and directories, spaces, unicode,
// modes and symlinks, into an existing directory in the pod (where it lands
// under its own name) and back to a new local directory, and again into a
// container of a two-container pod chosen with -c.
func TestCopyTree(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "tree")
	makeTree(t, src)
	want := describe(t, src)

	remote := filepath.Join(dir, "pod side")
	if err := os.Mkdir(remote, 0o755); err != nil {
		t.Fatal(err)
	}
	mustCP(t, env.Server.Kubeconfig, src, harness.PodExec+":"+remote)
	if got := describe(t, filepath.Join(remote, "tree")); got != want {
		t.Fatalf("in the pod:\n%s\nwant:\n%s", got, want)
	}
	back := filepath.Join(dir, "back")
	mustCP(t, env.Server.Kubeconfig, harness.PodExec+":"+filepath.Join(remote, "tree"), back)
	if got := describe(t, back); got != want {
		t.Errorf("back:\n%s\nwant:\n%s", got, want)
	}

	renamed := filepath.Join(dir, "renamed in b")
	mustCP(t, env.Server.Kubeconfig, "-c", "b", src, "two:"+renamed)
	if got := describe(t, renamed); got != want {
		t.Errorf("into container b:\n%s\nwant:\n%s", got, want)
	}
}

// TestCopyMissing: a path missing in the pod exits with the remote tar's
// code (2), its message on stdout as kubectl prints it, and creates
// nothing locally.
func TestCopyMissing(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "nothing")
	r := runCP(t, env.Server.Kubeconfig, harness.PodExec+":/no/such/path", dest)
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (stdout %q, stderr %q)", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Lstat(dest); err == nil {
		t.Errorf("%s was created", dest)
	}
}

// TestCopyHardLinkFromPod: GNU tar in the pod sends the second name of a
// hard-linked file as a link entry; it arrives as a hard link.
func TestCopyHardLinkFromPod(t *testing.T) {
	dir := t.TempDir()
	remote := filepath.Join(dir, "pod dir")
	if err := os.MkdirAll(filepath.Join(remote, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(remote, "first"), []byte("shared"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(remote, "first"), filepath.Join(remote, "sub", "second")); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(dir, "back")
	mustCP(t, env.Server.Kubeconfig, harness.PodExec+":"+remote, back)
	a, errA := os.Stat(filepath.Join(back, "first"))
	b, errB := os.Stat(filepath.Join(back, "sub", "second"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("first and sub/second: %v, %v; want one file with two names", errA, errB)
	}
}
