package cp_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/cli/clitest"
	"github.com/porthole/porthole/internal/cli/cp"
	"github.com/porthole/porthole/internal/cli/root"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/serve"
)

// startServe runs porthole's one-process cluster with pod "p" and pod
// "evil", whose tar is a script printing the archive at evilTar, and
// returns the kubeconfig path.
func startServe(t *testing.T, evilTar string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nexec cat '" + evilTar + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "tar"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sleeper := kube.Container{Name: "c", Command: []string{"sleep", "100000"}}
	evil := sleeper
	evil.Env = []kube.EnvVar{{Name: "PATH", Value: bin + ":" + os.Getenv("PATH")}}
	pods := []*kube.Pod{
		{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default"}, Spec: kube.PodSpec{Containers: []kube.Container{sleeper}}},
		{ObjectMeta: kube.ObjectMeta{Name: "evil", Namespace: "default"}, Spec: kube.PodSpec{Containers: []kube.Container{evil}}},
		{ObjectMeta: kube.ObjectMeta{Name: "two", Namespace: "default"}, Spec: kube.PodSpec{Containers: []kube.Container{
			{Name: "a", Command: []string{"sleep", "100000"}}, {Name: "b", Command: []string{"sleep", "100000"}}}}},
	}
	kc := clitest.Serve(t, serve.Options{Pods: pods})
	clitest.AwaitRunning(t, kc, "p", "evil", "two")
	return kc
}

// run runs porthole with args and returns the exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cli.Factory{IOStreams: ios, ConfigDir: func() (string, error) { return t.TempDir(), nil }}
	code := root.Run(t.Context(), f, args)
	return code, out.String(), errOut.String()
}

func evilArchive(t *testing.T, path string) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "tmp/x/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "tmp/x/ok", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "tmp/x/../../../outside/pwned", Typeflag: tar.TypeReg, Mode: 0o644},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRun copies through the real command line: up, down, a remote
// failure's exit code, and a hostile archive refused with nothing written
// outside the destination.
func TestRun(t *testing.T) {
	base := t.TempDir()
	evilTar := filepath.Join(base, "evil.tar")
	evilArchive(t, evilTar)
	kc := startServe(t, evilTar)

	src := filepath.Join(base, "src file")
	if err := os.WriteFile(src, []byte("hello over cp"), 0o640); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(base, "remote")
	os.Mkdir(remote, 0o755)
	if code, out, errOut := run(t, "cp", "--kubeconfig", kc, src, "default/p:"+remote); code != 0 {
		t.Fatalf("upload: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(remote, "src file")); err != nil || string(b) != "hello over cp" {
		t.Fatalf("uploaded: %q (%v)", b, err)
	}

	code, out, errOut := run(t, "cp", "--kubeconfig", kc, src, "two:"+filepath.Join(remote, "via-default"))
	if code != 0 || errOut != "Defaulted container \"a\" out of: a, b\n" {
		t.Errorf("default container: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = run(t, "cp", "--kubeconfig", kc, "-c", "nope", src, "two:/tmp/x")
	if code != 1 || !strings.Contains(errOut, "container nope is not valid for pod two") {
		t.Errorf("bad container: exit %d, stderr %q", code, errOut)
	}

	back := filepath.Join(base, "back")
	if code, out, errOut := run(t, "cp", "--kubeconfig", kc, "p:"+filepath.Join(remote, "src file"), back); code != 0 {
		t.Fatalf("download: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if b, err := os.ReadFile(back); err != nil || string(b) != "hello over cp" {
		t.Errorf("downloaded: %q (%v)", b, err)
	}

	code, out, _ = run(t, "cp", "--kubeconfig", kc, "p:/no/such/file", filepath.Join(base, "none"))
	if code != 2 || !strings.Contains(out, "No such file") {
		t.Errorf("missing remote file: exit %d, stdout %q; want 2 and tar's message", code, out)
	}

	dest := filepath.Join(base, "in", "dest")
	outside := filepath.Join(base, "outside")
	os.MkdirAll(outside, 0o755)
	code, _, errOut = run(t, "cp", "--kubeconfig", kc, "evil:/tmp/x", dest)
	if code != 1 || !strings.Contains(errOut, `error: refusing tar entry "tmp/x/../../../outside/pwned"`) {
		t.Errorf("hostile archive: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(outside, "pwned")); err == nil {
		t.Errorf("hostile archive wrote outside the destination")
	}
	if _, err := os.Stat(filepath.Join(dest, "ok")); err != nil {
		t.Errorf("the entry before the hostile one: %v", err)
	}
}

// TestRunProgress: with a terminal on stderr the copy draws its progress
// line there, ending with the total and a newline; stdout stays clean.
func TestRunProgress(t *testing.T) {
	base := t.TempDir()
	kc := startServe(t, filepath.Join(base, "unused.tar"))
	src := filepath.Join(base, "payload")
	if err := os.WriteFile(src, bytes.Repeat([]byte("p"), 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ios, _, out, errOut := iostreams.Test()
	f := &cli.Factory{IOStreams: ios, ConfigDir: func() (string, error) { return t.TempDir(), nil }}
	cmd := cp.NewCmd(f, func(ctx context.Context, o *cp.Options) error {
		o.IsTerminal = func(w io.Writer) bool { return w == errOut }
		return cp.Run(ctx, o)
	})
	cli.AddGlobalFlags(cmd.PersistentFlags())
	cmd.SetArgs([]string{"--kubeconfig", kc, src, "p:" + filepath.Join(base, "copied")})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want nothing", out.String())
	}
	lines := strings.Split(errOut.String(), "\r\x1b[K")
	last := lines[len(lines)-1]
	if len(lines) < 2 || !strings.HasPrefix(strings.TrimSpace(last), "3.0 MiB") || !strings.HasSuffix(last, "/s\n") {
		t.Errorf("stderr %q: want progress lines ending with the 3 MiB total", errOut.String())
	}
}
