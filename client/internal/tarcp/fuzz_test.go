package tarcp

import (
	"archive/tar"
	"bytes"
	"path"
	"path/filepath"
	"testing"
)

// FuzzExtract: whatever the archive and prefix, Extract neither panics nor
// writes outside the destination, and every symlink it leaves resolves
// inside.
func FuzzExtract(f *testing.F) {
	seeds := [][]ent{
		{dir("d"), reg("d/f", "x"), sym("d/l", "f"), hard("d/h", "d/f")},
		{reg("../outside/sentinel", "x")},
		{sym("l", "."), reg("l/f", "x")},
		{sym("l", "../outside"), reg("l/sentinel", "x")},
		{dir("d"), sym("d/up", ".."), sym("l", "d/up/../outside")},
		{hard("h", "../outside/sentinel")},
		{pax(map[string]string{"path": "../outside/pax"}), reg("innocent", "x")},
		{dir("d"), {name: "d/null", typ: tar.TypeChar}},
		{ent{name: "ro", typ: tar.TypeDir, mode: 0o555}, reg("ro/f", "x")},
	}
	for _, s := range seeds {
		a := archive(f, s...)
		f.Add(a, "")
		f.Add(a, "d")
		f.Add(a[:len(a)/2], "")
	}
	f.Fuzz(func(t *testing.T, data []byte, prefix string) {
		s := newSandbox(t)
		err := Extract(bytes.NewReader(data), s.dest, prefix)
		_ = err
		s.checkOutside(t)
		makeWritable(s.dest)
	})
}

// FuzzNames: cleanName either refuses a name or returns a local path
// without "." or ".." components; an accepted symlink target, resolved
// lexically from the link's directory, never climbs above the root.
func FuzzNames(f *testing.F) {
	for _, s := range [][2]string{
		{"a/b", "../c"}, {"/etc/passwd", "x"}, {"a/../b", "b"}, {"d/l", "../../x"},
		{"l", "d/up/../outside"}, {"./a//b/", "./x"}, {"a", "/abs"}, {"x/y/z", "../../a/b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, target string) {
		clean, err := cleanName(name)
		if err != nil {
			return
		}
		if clean != "" && (!filepath.IsLocal(clean) || path.Clean(clean) != clean) {
			t.Fatalf("cleanName(%q) = %q: not a clean local path", name, clean)
		}
		if clean == "" || checkLinkTarget(name, clean, target) != nil {
			return
		}
		resolved := path.Join(path.Dir(clean), target)
		if !filepath.IsLocal(resolved) && resolved != "." {
			t.Fatalf("link %q -> %q accepted but resolves to %q", clean, target, resolved)
		}
	})
}
