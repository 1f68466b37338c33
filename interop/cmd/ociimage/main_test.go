package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImageReadsBackAndRuns builds porthole statically, packs it, reads
// the archive back as an OCI layout, checks the manifest and config (OCI
// types, entrypoint, non-root user, platform), takes /porthole out of the
// layer and runs it as that user. A second build gives the same bytes.
func TestImageReadsBackAndRuns(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "porthole")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/porthole")
	build.Dir = "../../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build porthole: %v\n%s", err, out)
	}
	archive := filepath.Join(dir, "porthole.oci.tar")
	if err := buildImage(bin, archive); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(dir, "again.oci.tar")
	if err := buildImage(bin, again); err != nil {
		t.Fatal(err)
	}
	if sum(t, archive) != sum(t, again) {
		t.Error("two builds of the same binary differ")
	}

	lay := filepath.Join(dir, "layout")
	untar(t, archive, lay)
	idx, err := layout.ImageIndexFromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIManifestSchema1 ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "porthole:test" {
		t.Fatalf("index: %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != "amd64" || c.User != "65532:65532" ||
		strings.Join(c.Entrypoint, " ") != "/porthole" || strings.Join(c.Cmd, " ") != "gateway" {
		t.Errorf("config: os %s arch %s user %q entrypoint %v cmd %v", cf.OS, cf.Architecture, c.User, c.Entrypoint, c.Cmd)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	var portholeData []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
		if h.Name == "porthole" {
			portholeData, _ = io.ReadAll(tr)
		}
	}
	for name, mode := range map[string]int64{"porthole": 0o755, "etc/passwd": 0o644, "etc/ssl/certs/ca-certificates.crt": 0o644, "tmp/": 0o1777} {
		if h := files[name]; h == nil || h.Mode != mode {
			t.Errorf("layer: %s missing or mode %v, want %o", name, h, mode)
		}
	}
	want, _ := os.ReadFile(bin)
	if !bytes.Equal(portholeData, want) {
		t.Fatalf("/porthole in the layer (%d bytes) is not the binary (%d bytes)", len(portholeData), len(want))
	}

	// Run what the image holds, as the image's user.
	runDir, err := os.MkdirTemp("", "ociimage-run-") // t.TempDir's parent is private to root
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(runDir)
	os.Chmod(runDir, 0o755)
	run := filepath.Join(runDir, "porthole")
	if err := os.WriteFile(run, portholeData, 0o755); err != nil {
		t.Fatal(err)
	}
	// Also as a container runs it: PID 1 of its own PID namespace, where
	// porthole runs itself below its init, which passes the output and
	// the exit code through (and must start: porthole says when it runs
	// without one).
	for _, pid1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "as a process", true: "as PID 1"}[pid1], func(t *testing.T) {
			sys := &syscall.SysProcAttr{}
			if os.Geteuid() == 0 {
				sys.Credential = &syscall.Credential{Uid: 65532, Gid: 65532}
			}
			if pid1 {
				if os.Geteuid() != 0 {
					t.Skip("a new PID namespace as the image's user needs root")
				}
				sys.Cloneflags = syscall.CLONE_NEWPID
				if err := (&exec.Cmd{Path: "/bin/true", SysProcAttr: sys}).Run(); err != nil {
					t.Skipf("no new PID namespace here: %v", err)
				}
			}
			for _, tc := range []struct {
				arg  string
				code int
				out  string
			}{{"--help", 0, "--upstream-kubeconfig"}, {"--no-such-flag", 1, "unknown flag: --no-such-flag"}} {
				cmd := exec.Command(run, "gateway", tc.arg)
				cmd.SysProcAttr = sys
				out, _ := cmd.CombinedOutput()
				if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(string(out), tc.out) || strings.Contains(string(out), "without an init") {
					t.Errorf("the image's porthole gateway %s: exit %d, want %d, with %q in\n%s", tc.arg, code, tc.code, tc.out, out)
				}
			}
		})
	}
}

func buildImage(bin, out string) error {
	return build(bin, out, "porthole:test", "amd64", "/etc/ssl/certs/ca-certificates.crt")
}

func sum(t *testing.T, path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func untar(t *testing.T, archive, dst string) {
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dst) {
			t.Fatalf("entry %q escapes", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
