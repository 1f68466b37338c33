package tarcp

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ent is one entry of a test archive.
type ent struct {
	name string
	typ  byte // tar.TypeReg when 0
	body string
	link string
	mode int64 // 0o644 when 0
	pax  map[string]string
}

func reg(name, body string) ent { return ent{name: name, body: body} }
func dir(name string) ent       { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func sym(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}
func hard(name, target string) ent           { return ent{name: name, typ: tar.TypeLink, link: target} }
func pax(records map[string]string) ent      { return ent{typ: tar.TypeXHeader, pax: records} }
func regMode(name, body string, m int64) ent { return ent{name: name, body: body, mode: m} }

// archive builds a tar stream of ents with the end-of-archive marker.
func archive(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		if e.typ == tar.TypeXHeader {
			tw.Flush()
			buf.Write(rawPAX(e.pax))
			continue
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body)), PAXRecords: e.pax}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write header %q: %v", e.name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sandbox is a temp dir holding the destination "dest" and, beside it, a
// directory "outside" with a sentinel file. The tests check that nothing
// but dest changes.
type sandbox struct {
	top, dest, outside string
	// userLinks are symlinks the test planted in dest itself, exempt from
	// checkLinks.
	userLinks map[string]bool
}

const sentinelBody = "do not touch"

func newSandbox(t testing.TB) *sandbox {
	t.Helper()
	top := t.TempDir()
	s := &sandbox{top: top, dest: filepath.Join(top, "dest"), outside: filepath.Join(top, "outside")}
	if err := os.Mkdir(s.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.outside, "sentinel"), []byte(sentinelBody), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkOutside fails unless the sandbox holds exactly dest (anything in
// it), outside and the unchanged sentinel.
func (s *sandbox) checkOutside(t testing.TB) {
	t.Helper()
	err := filepath.WalkDir(s.top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.top, p)
		switch {
		case rel == ".", rel == "outside", rel == "dest":
		case rel == filepath.Join("outside", "sentinel"):
			if !d.Type().IsRegular() {
				t.Errorf("sentinel is now %v", d.Type())
			}
		case strings.HasPrefix(rel, "dest"+string(filepath.Separator)):
			return nil
		default:
			t.Errorf("written outside the destination: %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.outside, "sentinel"))
	if err != nil || string(b) != sentinelBody {
		t.Errorf("sentinel: got %q (%v), want %q", b, err, sentinelBody)
	}
	s.checkLinks(t)
}

// checkLinks fails if a symlink under dest resolves outside it.
func (s *sandbox) checkLinks(t testing.TB) {
	t.Helper()
	realDest, err := filepath.EvalSymlinks(s.dest)
	if err != nil {
		return // no dest: nothing was written
	}
	filepath.WalkDir(s.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 || s.userLinks[p] {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			t.Errorf("readlink %s: %v", p, err)
			return nil
		}
		if filepath.IsAbs(target) {
			t.Errorf("symlink %s -> %s is absolute", p, target)
			return nil
		}
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			if rel, err := filepath.Rel(realDest, resolved); err != nil || !filepath.IsLocal(rel) && rel != "." {
				t.Errorf("symlink %s resolves to %s, outside %s", p, resolved, realDest)
			}
		}
		return nil
	})
}

// rawPAX returns a PAX extended header ('x') entry for records, which
// archive/tar's Writer refuses to write by hand: how a hostile archive
// renames the next entry behind its innocent-looking ustar name.
func rawPAX(records map[string]string) []byte {
	var body []byte
	for k, v := range records {
		rec := " " + k + "=" + v + "\n"
		n := len(rec)
		for len(strconv.Itoa(n))+len(rec) != n {
			n = len(strconv.Itoa(n)) + len(rec)
		}
		body = append(body, strconv.Itoa(n)+rec...)
	}
	blk := make([]byte, 512)
	copy(blk, "PaxHeaders/x")
	copy(blk[100:], "0000644\x00")
	copy(blk[108:], "0000000\x00")
	copy(blk[116:], "0000000\x00")
	copy(blk[124:], fmt.Sprintf("%011o\x00", len(body)))
	copy(blk[136:], "00000000000\x00")
	blk[156] = tar.TypeXHeader
	copy(blk[257:], "ustar\x0000")
	copy(blk[148:], "        ")
	sum := 0
	for _, b := range blk {
		sum += int(b)
	}
	copy(blk[148:], fmt.Sprintf("%06o\x00 ", sum))
	out := append(blk, body...)
	return append(out, make([]byte, (512-len(body)%512)%512)...)
}

// makeWritable lets t.TempDir remove what an extraction left read-only.
func makeWritable(root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}
