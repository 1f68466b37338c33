package tarcp

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExtractRefuses: every hostile archive ends with an *UnsafeEntryError
// naming the entry, and nothing outside the destination changes.
func TestExtractRefuses(t *testing.T) {
	long := strings.Repeat("d/", 80) + "f"
	for _, tc := range []struct {
		name   string
		ents   []ent
		prefix string
		// pre prepares the destination before the copy.
		pre  func(t *testing.T, s *sandbox)
		want string // the refused entry
	}{
		{name: "absolute", ents: []ent{reg("/tmp/evil", "x")}, want: "/tmp/evil"},
		{name: "absolute-into-sandbox", ents: []ent{dir("d"), reg("SANDBOX/outside/sentinel", "x")}, want: "SANDBOX/outside/sentinel"},
		{name: "dotdot", ents: []ent{reg("../outside/sentinel", "x")}, want: "../outside/sentinel"},
		{name: "dotdot-inner", ents: []ent{dir("a"), reg("a/../../outside/evil", "x")}, want: "a/../../outside/evil"},
		{name: "dotdot-harmless-still-refused", ents: []ent{reg("a/../b", "x")}, want: "a/../b"},
		{name: "symlink-absolute", ents: []ent{sym("l", "/etc")}, want: "l"},
		{name: "symlink-up", ents: []ent{sym("l", "../outside")}, want: "l"},
		{name: "symlink-up-deep", ents: []ent{dir("a"), sym("a/l", "../../outside")}, want: "a/l"},
		{name: "symlink-climb-after-name", ents: []ent{dir("d"), sym("d/up", ".."), sym("l", "d/up/../outside")}, want: "l"},
		{name: "symlink-then-file-through-it", ents: []ent{sym("l", "."), reg("l/f", "x")}, want: "l/f"},
		{name: "symlink-then-dir-through-it", ents: []ent{dir("d"), sym("l", "d"), dir("l/sub")}, want: "l/sub"},
		{name: "symlink-into-outside-then-file", ents: []ent{sym("l", "../outside"), reg("l/sentinel", "x")}, want: "l"},
		{name: "hardlink-dotdot", ents: []ent{hard("h", "../outside/sentinel")}, want: "h"},
		{name: "hardlink-absolute", ents: []ent{dir("d"), hard("d/h", "SANDBOX/outside/sentinel")}, want: "d/h"},
		{name: "hardlink-outside-prefix", prefix: "src", ents: []ent{dir("src"), hard("src/h", "other/f")}, want: "src/h"},
		{name: "hardlink-missing", ents: []ent{dir("d"), hard("d/h", "d/nothing")}, want: "d/h"},
		{name: "char-device", ents: []ent{dir("d"), {name: "d/null", typ: tar.TypeChar}}, want: "d/null"},
		{name: "block-device", ents: []ent{dir("d"), {name: "d/sda", typ: tar.TypeBlock}}, want: "d/sda"},
		{name: "fifo", ents: []ent{dir("d"), {name: "d/p", typ: tar.TypeFifo}}, want: "d/p"},
		{name: "outside-prefix", prefix: "tmp/foo", ents: []ent{dir("tmp/foo"), reg("tmp/foobar/x", "x")}, want: "tmp/foobar/x"},
		{name: "long-name-dotdot", ents: []ent{reg(long+"/../../"+strings.Repeat("../", 90)+"outside/x", "x")}, want: long + "/../../" + strings.Repeat("../", 90) + "outside/x"},
		{name: "pax-path-dotdot", ents: []ent{pax(map[string]string{"path": "../outside/pax"}), reg("innocent", "x")}, want: "../outside/pax"},
		{name: "pax-path-absolute", ents: []ent{pax(map[string]string{"path": "SANDBOX/outside/pax"}), reg("innocent", "x")}, want: "SANDBOX/outside/pax"},
		{name: "pax-linkpath-absolute", ents: []ent{pax(map[string]string{"linkpath": "/etc/passwd"}), sym("l", "innocent")}, want: "l"},
		// 64 MiB of holes from one data byte; a real bomb claims terabytes
		// (kept small here so that a regression fails instead of filling
		// the disk).
		{name: "sparse-bomb", ents: []ent{pax(map[string]string{"GNU.sparse.major": "0", "GNU.sparse.minor": "1",
			"GNU.sparse.name": "bomb", "GNU.sparse.size": "67108864", "GNU.sparse.numblocks": "1", "GNU.sparse.map": "0,1"}),
			reg("innocent", "x")}, want: "bomb"},
		{name: "file-below-copied-file", prefix: "f", ents: []ent{reg("f", "x"), reg("f/g", "y")}, want: "f/g"},
		{name: "root-symlink", prefix: "link", ents: []ent{sym("link", "/etc/passwd")}, want: "link"},
		{name: "preexisting-symlink-out", ents: []ent{reg("x/evil", "x")}, want: "x/evil",
			pre: func(t *testing.T, s *sandbox) {
				if err := os.Mkdir(s.dest, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("../outside", filepath.Join(s.dest, "x")); err != nil {
					t.Fatal(err)
				}
				s.userLinks = map[string]bool{filepath.Join(s.dest, "x"): true}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			for i := range tc.ents {
				tc.ents[i].name = strings.ReplaceAll(tc.ents[i].name, "SANDBOX", s.top)
				tc.ents[i].link = strings.ReplaceAll(tc.ents[i].link, "SANDBOX", s.top)
				for k, v := range tc.ents[i].pax {
					tc.ents[i].pax[k] = strings.ReplaceAll(v, "SANDBOX", s.top)
				}
			}
			if tc.pre != nil {
				tc.pre(t, s)
			}
			err := Extract(bytes.NewReader(archive(t, tc.ents...)), s.dest, tc.prefix)
			var unsafe *UnsafeEntryError
			if !errors.As(err, &unsafe) {
				t.Fatalf("got error %v, want *UnsafeEntryError", err)
			}
			if want := strings.ReplaceAll(tc.want, "SANDBOX", s.top); unsafe.Name != want {
				t.Errorf("refused %q (%s), want %q", unsafe.Name, unsafe.Reason, want)
			}
			s.checkOutside(t)
		})
	}
}

// TestExtractTree: a well-formed tree lands in dest with contents, modes,
// symlinks and hard links, whatever the names.
func TestExtractTree(t *testing.T) {
	s := newSandbox(t)
	long := strings.Repeat("long-name-", 20)
	a := archive(t,
		dir("src"),
		regMode("src/exec.sh", "#!/bin/sh\n", 0o755),
		regMode("src/private", "secret", 0o600),
		regMode("src/setuid", "s", 0o4755),
		reg("src/empty", ""),
		dir("src/empty dir"),
		reg("src/with space/ünïcødé 文件", "unicode"),
		reg("src/"+long, "long"),
		sym("src/link", "exec.sh"),
		sym("src/sub/uplink", "../private"),
		hard("src/hard", "src/private"),
		ent{name: "src/ro", typ: tar.TypeDir, mode: 0o555},
		reg("src/ro/inside", "in a read-only dir"),
		pax(map[string]string{"path": "src/named-by-pax"}),
		reg("src/pax", "p"),
	)
	if err := Extract(bytes.NewReader(a), s.dest, "/src/"); err != nil {
		t.Fatal(err)
	}
	s.checkOutside(t)
	files := map[string]struct {
		body string
		mode fs.FileMode
	}{
		"exec.sh":               {"#!/bin/sh\n", 0o755},
		"private":               {"secret", 0o600},
		"setuid":                {"s", 0o755},
		"empty":                 {"", 0o644},
		"with space/ünïcødé 文件": {"unicode", 0o644},
		long:                    {"long", 0o644},
		"hard":                  {"secret", 0o600},
		"ro/inside":             {"in a read-only dir", 0o644},
		"named-by-pax":          {"p", 0o644},
		"link":                  {"#!/bin/sh\n", 0o755},
		"sub/uplink":            {"secret", 0o600},
	}
	for name, want := range files {
		p := filepath.Join(s.dest, name)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want.body {
			t.Errorf("%s: got %q (%v), want %q", name, b, err, want.body)
			continue
		}
		fi, _ := os.Stat(p)
		if got := fi.Mode(); got != want.mode {
			t.Errorf("%s: mode %v, want %v", name, got, want.mode)
		}
	}
	for name, target := range map[string]string{"link": "exec.sh", "sub/uplink": "../private"} {
		if got, err := os.Readlink(filepath.Join(s.dest, name)); err != nil || got != target {
			t.Errorf("%s: link to %q (%v), want %q", name, got, err, target)
		}
	}
	if fi, err := os.Stat(filepath.Join(s.dest, "empty dir")); err != nil || !fi.IsDir() {
		t.Errorf("empty dir: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(s.dest, "ro")); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("ro: mode %v (%v), want 0555", fi.Mode(), err)
	}
	os.Chmod(filepath.Join(s.dest, "ro"), 0o755) // let TempDir clean up
}

// TestExtractFile: a single file goes to dest, or into dest when it is a
// directory; an existing file or symlink there is replaced, not followed.
func TestExtractFile(t *testing.T) {
	t.Run("new-path", func(t *testing.T) {
		s := newSandbox(t)
		if err := Extract(bytes.NewReader(archive(t, reg("var/log/app.log", "log"))), s.dest, "/var/log/app.log"); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(s.dest); err != nil || string(b) != "log" {
			t.Errorf("dest: got %q (%v), want %q", b, err, "log")
		}
		s.checkOutside(t)
	})
	t.Run("into-directory", func(t *testing.T) {
		s := newSandbox(t)
		os.Mkdir(s.dest, 0o755)
		if err := Extract(bytes.NewReader(archive(t, reg("var/log/app.log", "log"))), s.dest, "var/log/app.log"); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(s.dest, "app.log")); err != nil || string(b) != "log" {
			t.Errorf("dest/app.log: got %q (%v), want %q", b, err, "log")
		}
		s.checkOutside(t)
	})
	t.Run("into-new-directory-with-slash", func(t *testing.T) {
		s := newSandbox(t)
		if err := Extract(bytes.NewReader(archive(t, reg("var/log/app.log", "log"))), s.dest+"/", "var/log/app.log"); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(s.dest, "app.log")); err != nil || string(b) != "log" {
			t.Errorf("dest/app.log: got %q (%v), want %q", b, err, "log")
		}
		s.checkOutside(t)
	})
	t.Run("replaces-symlink", func(t *testing.T) {
		s := newSandbox(t)
		if err := os.Symlink(filepath.Join(s.outside, "sentinel"), s.dest); err != nil {
			t.Fatal(err)
		}
		if err := Extract(bytes.NewReader(archive(t, reg("f", "new"))), s.dest, "f"); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(s.dest); err != nil || string(b) != "new" {
			t.Errorf("dest: got %q (%v), want %q", b, err, "new")
		}
		s.checkOutside(t)
	})
	t.Run("replaces-own-symlink", func(t *testing.T) {
		s := newSandbox(t)
		a := archive(t, dir("d"), reg("d/f", "old"), sym("d/l", "f"), reg("d/l", "new"))
		if err := Extract(bytes.NewReader(a), s.dest, "d"); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"f": "old", "l": "new"} {
			if b, err := os.ReadFile(filepath.Join(s.dest, name)); err != nil || string(b) != want {
				t.Errorf("%s: got %q (%v), want %q", name, b, err, want)
			}
		}
	})
}

// TestExtractTruncated: a stream that stops before the end-of-archive
// marker is ErrTruncated wherever it stops; a marker alone is ErrEmpty.
func TestExtractTruncated(t *testing.T) {
	a := archive(t, dir("d"), reg("d/f", strings.Repeat("x", 3000)), reg("d/g", "y"))
	// Offsets: d header 0, f header 512, f data 1024..4024 padded to 4096,
	// g header 4096, g data 4608, marker 5120.
	for _, tc := range []struct {
		name string
		n    int
		want error
	}{
		{"empty", 0, ErrTruncated},
		{"mid-header", 100, ErrTruncated},
		{"after-first-entry", 512, ErrTruncated},
		{"mid-data", 2000, ErrTruncated},
		{"in-padding", 4050, ErrTruncated},
		{"entry-boundary", 4096, ErrTruncated},
		{"before-marker", 5120, ErrTruncated},
		{"half-marker", 5120 + 100, ErrTruncated},
		{"one-zero-block", 5120 + 512, nil},
		{"whole", len(a), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			err := Extract(bytes.NewReader(a[:tc.n]), s.dest, "d")
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			s.checkOutside(t)
		})
	}
	t.Run("marker-only", func(t *testing.T) {
		s := newSandbox(t)
		if err := Extract(bytes.NewReader(make([]byte, 1024)), s.dest, "d"); !errors.Is(err, ErrEmpty) {
			t.Fatalf("got %v, want ErrEmpty", err)
		}
	})
}

// TestExtractCutKeepsOldFile: a stream cut inside a file's data leaves the
// file that was there before, untouched, and no temporary file.
func TestExtractCutKeepsOldFile(t *testing.T) {
	s := newSandbox(t)
	if err := os.MkdirAll(s.dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dest, "f"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := archive(t, dir("d"), reg("d/f", strings.Repeat("new", 1000)))
	if err := Extract(bytes.NewReader(a[:2000]), s.dest, "d"); !errors.Is(err, ErrTruncated) {
		t.Fatalf("got %v, want ErrTruncated", err)
	}
	entries, _ := os.ReadDir(s.dest)
	if len(entries) != 1 || entries[0].Name() != "f" {
		t.Errorf("dest holds %v, want only f", entries)
	}
	if b, err := os.ReadFile(filepath.Join(s.dest, "f")); err != nil || string(b) != "old" {
		t.Errorf("f: got %q (%v), want the old content", b, err)
	}
}
