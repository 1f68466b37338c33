package cp

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube"
)

// evilTar is the hostile pod's tar: whatever it is asked for, it prints
// the archive the test prepared under the requested path's base name.
const evilTar = `#!/bin/sh
exec cat "$ARCHIVES/$(basename "$3").tar"
`

// TestCopyHostile: a container whose tar answers with a crafted archive
// gets the copy refused with an error naming the entry (exit 1), and
// nothing outside the destination is written, linked or changed.
func TestCopyHostile(t *testing.T) {
	dir := t.TempDir()
	bin, archives := filepath.Join(dir, "bin"), filepath.Join(dir, "archives")
	for _, d := range []string{bin, archives} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "tar"), []byte(evilTar), 0o755); err != nil {
		t.Fatal(err)
	}
	kc := servePods(t, []*kube.Pod{fakeTarPod("evil", bin, kube.EnvVar{Name: "ARCHIVES", Value: archives})})

	for _, tc := range []struct {
		name string
		// entries after the copied directory "data/NAME/"; OUTSIDE is the
		// absolute path of the directory beside the destination.
		entries []*tar.Header
		refused string
	}{
		{"absolute", []*tar.Header{reg("OUTSIDE/pwned")}, "OUTSIDE/pwned"},
		{"dotdot", []*tar.Header{reg("data/dotdot/../outside/pwned")}, "data/dotdot/../outside/pwned"},
		{"symlink-out", []*tar.Header{link("data/symlink-out/l", "../outside"), reg("data/symlink-out/l/pwned")}, "data/symlink-out/l"},
		{"symlink-absolute", []*tar.Header{link("data/symlink-absolute/l", "OUTSIDE"), reg("data/symlink-absolute/l/pwned")}, "data/symlink-absolute/l"},
		{"symlink-then-through", []*tar.Header{link("data/symlink-then-through/l", "."), reg("data/symlink-then-through/l/pwned")}, "data/symlink-then-through/l/pwned"},
		{"hardlink-out", []*tar.Header{hard("data/hardlink-out/h", "data/hardlink-out/../outside/sentinel"), reg("data/hardlink-out/h")}, "data/hardlink-out/h"},
		{"device", []*tar.Header{{Name: "data/device/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}, "data/device/null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			box := t.TempDir()
			outside, dest := filepath.Join(box, "outside"), filepath.Join(box, "dest")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			sentinel := filepath.Join(outside, "sentinel")
			if err := os.WriteFile(sentinel, []byte("untouched"), 0o644); err != nil {
				t.Fatal(err)
			}
			writeArchive(t, filepath.Join(archives, tc.name+".tar"), outside, tc.name, tc.entries)

			r := runCP(t, kc, "evil:/data/"+tc.name, dest)
			refused := strings.ReplaceAll(tc.refused, "OUTSIDE", outside)
			if r.code != 1 || !strings.Contains(r.stderr, `error: refusing tar entry "`+refused+`"`) {
				t.Errorf("exit %d, stderr %q; want 1 and the refusal of %q", r.code, r.stderr, refused)
			}
			entries, err := os.ReadDir(outside)
			if err != nil || len(entries) != 1 || entries[0].Name() != "sentinel" {
				t.Errorf("outside holds %v (%v), want only the sentinel", entries, err)
			}
			if b, err := os.ReadFile(sentinel); err != nil || string(b) != "untouched" {
				t.Errorf("sentinel: %q (%v)", b, err)
			}
			if fi, err := os.Stat(sentinel); err != nil || fi.Sys() == nil || nlink(fi) != 1 {
				t.Errorf("sentinel gained a hard link")
			}
			top, _ := os.ReadDir(box)
			if len(top) > 2 {
				t.Errorf("beside the destination: %v, want only outside and dest", top)
			}
		})
	}
}

func reg(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len("pwned"))}
}

func link(name, target string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
}

func hard(name, target string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644}
}

// writeArchive writes the hostile archive: the copied directory's entry,
// then entries (OUTSIDE replaced by outside), regular files holding "pwned".
func writeArchive(t *testing.T, path, outside, name string, entries []*tar.Header) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	all := append([]*tar.Header{{Name: "data/" + name + "/", Typeflag: tar.TypeDir, Mode: 0o755}}, entries...)
	for _, h := range all {
		h.Name = strings.ReplaceAll(h.Name, "OUTSIDE", outside)
		h.Linkname = strings.ReplaceAll(h.Linkname, "OUTSIDE", outside)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte("pwned"))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
