package tarcp

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPackEntries: names under the given top name, directories before
// their contents with a trailing slash, symlinks as symlinks, special files
// skipped with a warning.
func TestPackEntries(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf, warn bytes.Buffer
	if err := Pack(t.Context(), &buf, src, "top", &warn); err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%c %s %o %s", hdr.Typeflag, hdr.Name, hdr.Mode, hdr.Linkname))
	}
	want := []string{
		"5 top/ 755 ",
		"5 top/empty/ 700 ",
		"0 top/empty file 644 ",
		"2 top/link 777 run.sh",
		"0 top/run.sh 755 ",
		"0 top/secret 600 ",
		"5 top/sub dir/ 755 ",
		"2 top/sub dir/up 777 ../secret",
		"5 top/sub dir/ünï/ 755 ",
		"0 top/sub dir/ünï/文件 with space 640 ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(warn.String(), "skipping "+filepath.Join(src, "fifo")) {
		t.Errorf("warnings %q: want the fifo skipped", warn.String())
	}
}

// TestPackExtractRoundTrip: what Pack writes, Extract recreates.
func TestPackExtractRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)
	var buf bytes.Buffer
	if err := Pack(t.Context(), &buf, src, "tmp/x", nil); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if err := Extract(&buf, dest, "/tmp/x"); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(t, dest), describe(t, src); got != want {
		t.Errorf("round trip:\n%s\nwant:\n%s", got, want)
	}
}

// TestPackCancelled: a cancelled context stops Pack between entries.
func TestPackCancelled(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Pack(ctx, io.Discard, src, "x", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
