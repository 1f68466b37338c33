package tarcp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/porthole/porthole/protocol/status"
)

// localExec runs cmd on this machine: the container is the local
// filesystem, its tar is GNU tar. Exit codes come back as *status.ExitError
// like the client's.
func localExec(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return &status.ExitError{Code: ee.ExitCode()}
	}
	return err
}

// recorder wraps an ExecFunc and keeps the commands it ran.
type recorder struct {
	exec ExecFunc
	cmds [][]string
}

func (r *recorder) run(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	r.cmds = append(r.cmds, cmd)
	return r.exec(ctx, cmd, stdin, stdout, stderr)
}

// makeTree writes the tree the copy tests move around: empty files and
// directories, spaces, unicode, modes, a symlink and a nested one.
func makeTree(t testing.TB, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sub dir", "ünï"), 0o755))
	must(os.Mkdir(filepath.Join(root, "empty"), 0o700))
	must(os.WriteFile(filepath.Join(root, "empty file"), nil, 0o644))
	must(os.WriteFile(filepath.Join(root, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(root, "secret"), []byte("s3cr3t"), 0o600))
	must(os.WriteFile(filepath.Join(root, "sub dir", "ünï", "文件 with space"), bytes.Repeat([]byte("data"), 5000), 0o640))
	must(os.Symlink("run.sh", filepath.Join(root, "link")))
	must(os.Symlink("../secret", filepath.Join(root, "sub dir", "up")))
}

// describe lists a tree as "path type mode sha256|target" lines.
func describe(t testing.TB, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		if rel != "." {
			lines = append(lines, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestUploadDownload moves the tree through real GNU tar both ways and
// compares names, types, modes, contents and link targets.
func TestUploadDownload(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	makeTree(t, src)
	want := describe(t, src)

	// Into a directory that exists "in the container": lands under src's name.
	remote := filepath.Join(base, "remote")
	os.Mkdir(remote, 0o755)
	rec := &recorder{exec: localExec}
	var stderr bytes.Buffer
	if err := Upload(t.Context(), rec.run, &UploadOptions{Src: src, Dest: remote, Stderr: &stderr}); err != nil {
		t.Fatalf("upload: %v (stderr %q)", err, stderr.String())
	}
	if got := describe(t, filepath.Join(remote, "src")); got != want {
		t.Errorf("uploaded tree:\n%s\nwant:\n%s", got, want)
	}
	wantCmds := fmt.Sprintf("[test -d %s] [tar -xmf - -C %s]", remote, remote)
	if got := fmt.Sprint(rec.cmds[0], " ", rec.cmds[1]); got != wantCmds {
		t.Errorf("commands %s, want %s", got, wantCmds)
	}

	// Back out, to a new local directory.
	local := filepath.Join(base, "local")
	var stdout bytes.Buffer
	if err := Download(t.Context(), localExec, &DownloadOptions{Src: filepath.Join(remote, "src"), Dest: local, Stdout: &stdout}); err != nil {
		t.Fatalf("download: %v (stdout %q)", err, stdout.String())
	}
	if got := describe(t, local); got != want {
		t.Errorf("downloaded tree:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(stdout.String(), "Removing leading") {
		t.Errorf("remote stderr %q: want GNU tar's notice on stdout, as kubectl prints it", stdout.String())
	}
}

// TestUploadFileToNewName: a destination that is not a directory is the
// new name of the file; --no-preserve changes the remote command.
func TestUploadFileToNewName(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "a file")
	os.WriteFile(src, []byte("hello"), 0o640)
	dest := filepath.Join(base, "remote", "renamed")
	os.Mkdir(filepath.Dir(dest), 0o755)
	rec := &recorder{exec: localExec}
	if err := Upload(t.Context(), rec.run, &UploadOptions{Src: src, Dest: dest, NoPreserve: true}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(dest); err != nil || string(b) != "hello" {
		t.Errorf("dest: got %q (%v), want hello", b, err)
	}
	want := fmt.Sprintf("[tar --no-same-permissions --no-same-owner -xmf - -C %s]", filepath.Dir(dest))
	if got := fmt.Sprint(rec.cmds[1]); got != want {
		t.Errorf("command %s, want %s", got, want)
	}
}

// TestUploadErrors: a missing source fails before any exec; a remote tar
// failure comes back with its exit code.
func TestUploadErrors(t *testing.T) {
	rec := &recorder{exec: localExec}
	err := Upload(t.Context(), rec.run, &UploadOptions{Src: filepath.Join(t.TempDir(), "nope"), Dest: "/tmp"})
	if err == nil || !strings.Contains(err.Error(), "doesn't exist in local filesystem") || len(rec.cmds) != 0 {
		t.Errorf("missing source: err %v after %d execs", err, len(rec.cmds))
	}
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("x"), 0o644)
	err = Upload(t.Context(), localExec, &UploadOptions{Src: src, Dest: filepath.Join(t.TempDir(), "no", "such", "dir")})
	if code, ok := status.IsExit(err); !ok || code != 2 {
		t.Errorf("missing remote dir: got %v, want exit code 2", err)
	}
}

// TestDownloadRemoteFailure: a path missing in the container is the
// remote tar's exit code, with its message on stdout.
func TestDownloadRemoteFailure(t *testing.T) {
	var stdout bytes.Buffer
	err := Download(t.Context(), localExec, &DownloadOptions{Src: "/no/such/path", Dest: filepath.Join(t.TempDir(), "d"), Stdout: &stdout})
	if code, ok := status.IsExit(err); !ok || code != 2 {
		t.Errorf("got %v, want exit code 2", err)
	}
	if !strings.Contains(stdout.String(), "No such file") {
		t.Errorf("stdout %q: want tar's message", stdout.String())
	}
}

// TestUploadEarlyExit: a remote tar that exits 0 before reading all of
// stdin succeeded; one that fails reports its code; a local read error
// comes before the remote complaint it causes.
func TestUploadEarlyExit(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)
	for _, tc := range []struct {
		name string
		exit error
		want error
	}{
		{"exit-0", nil, nil},
		{"exit-2", &status.ExitError{Code: 2}, &status.ExitError{Code: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			early := func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
				if cmd[0] == "test" {
					return &status.ExitError{Code: 1}
				}
				if _, err := io.ReadFull(stdin, make([]byte, 512)); err != nil {
					return err
				}
				return tc.exit
			}
			err := Upload(t.Context(), early, &UploadOptions{Src: src, Dest: "/x"})
			if fmt.Sprint(err) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("local-error-first", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads unreadable files")
		}
		bad := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(bad, []byte("x"), 0o000)
		failing := func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
			if cmd[0] == "test" {
				return &status.ExitError{Code: 1}
			}
			io.Copy(io.Discard, stdin)
			return &status.ExitError{Code: 2}
		}
		err := Upload(t.Context(), failing, &UploadOptions{Src: bad, Dest: "/x"})
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("got %v, want the local permission error", err)
		}
	})
}

// TestUploadCancel: cancelling ends an upload whose remote stopped
// reading, and joins the packer.
func TestUploadCancel(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stalled := func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
		if cmd[0] == "test" {
			return nil
		}
		io.ReadFull(stdin, make([]byte, 100))
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	if err := Upload(ctx, stalled, &UploadOptions{Src: src, Dest: "/x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
