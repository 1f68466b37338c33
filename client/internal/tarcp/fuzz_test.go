package tarcp

import (
	"archive/tar"
	"bytes"
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
