package client

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// writeCopyTree writes a tree with the cases cp must carry: an empty file
// and directory, spaces, unicode, modes, symlinks, and a file larger than
// one frame.
func writeCopyTree(t *testing.T, root string) {
	t.Helper()
	big := make([]byte, 3<<20+17)
	for i := range big {
		big[i] = byte(i*31 + i>>11)
	}
	for _, step := range []error{
		os.MkdirAll(filepath.Join(root, "sub dir", "ünïcødé"), 0o755),
		os.Mkdir(filepath.Join(root, "empty"), 0o700),
		os.WriteFile(filepath.Join(root, "empty file"), nil, 0o644),
		os.WriteFile(filepath.Join(root, "run.sh"), []byte("#!/bin/sh\n"), 0o755),
		os.WriteFile(filepath.Join(root, "secret"), []byte("s"), 0o600),
		os.WriteFile(filepath.Join(root, "sub dir", "ünïcødé", "文件 big"), big, 0o640),
		os.Symlink("run.sh", filepath.Join(root, "link")),
		os.Symlink("../secret", filepath.Join(root, "sub dir", "up")),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
}

// listCopyTree describes a tree as sorted "path mode sha256|target" lines.
func listCopyTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil || rel == "." {
			return err
		}
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			line += " -> " + target
		} else if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestCopyRoundTrip: a tree goes into the container and back out over
// each wire (the node's pod runs on this machine, so the "container" is a
// temp dir), arriving identical both times.
func TestCopyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		refuseWS bool
		wire     Wire
	}{
		{"websocket", false, WireWebSocket},
		{"spdy-fallback", true, WireAuto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, counts := startExecNode(t, tc.refuseWS, false, Config{})
			base := t.TempDir()
			src := filepath.Join(base, "src")
			writeCopyTree(t, src)
			want := listCopyTree(t, src)
			remote := filepath.Join(base, "container")
			if err := os.Mkdir(remote, 0o755); err != nil {
				t.Fatal(err)
			}
			var sent int64
			up := &CopyOptions{Namespace: "default", Pod: "p", Container: "c", Direction: ToContainer,
				Local: src, Remote: remote, Wire: tc.wire, Progress: func(n int64) { sent = n }}
			if err := c.Copy(t.Context(), up); err != nil {
				t.Fatalf("upload: %v", err)
			}
			if got := listCopyTree(t, filepath.Join(remote, "src")); got != want {
				t.Fatalf("in the container:\n%s\nwant:\n%s", got, want)
			}
			if sent < 3<<20 {
				t.Errorf("progress reported %d bytes sent, want the whole archive", sent)
			}
			local := filepath.Join(base, "back")
			down := &CopyOptions{Namespace: "default", Pod: "p", Container: "c", Direction: FromContainer,
				Local: local, Remote: filepath.Join(remote, "src"), Wire: tc.wire, Retries: 2}
			if err := c.Copy(t.Context(), down); err != nil {
				t.Fatalf("download: %v", err)
			}
			if got := listCopyTree(t, local); got != want {
				t.Errorf("downloaded:\n%s\nwant:\n%s", got, want)
			}
			if tc.refuseWS && counts.spdy.Load() == 0 {
				t.Errorf("no SPDY session: the fallback was not used")
			}
		})
	}
}

// TestCopyRemoteExit: a path missing in the container comes back as the
// remote tar's exit code.
func TestCopyRemoteExit(t *testing.T) {
	c, _ := startExecNode(t, false, false, Config{})
	err := c.Copy(t.Context(), &CopyOptions{Namespace: "default", Pod: "p", Container: "c", Direction: FromContainer,
		Local: filepath.Join(t.TempDir(), "x"), Remote: "/no/such/path"})
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 2 {
		t.Errorf("got %v, want *ExitError with code 2", err)
	}
}
