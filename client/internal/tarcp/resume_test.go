package tarcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

var errCut = errors.New("connection reset by test")

// cutter runs commands locally but, for the i-th attempt with cuts[i] >= 0,
// delivers only the first cuts[i] bytes of its stdout and then fails the
// way a dropped connection does (or, with clean, ends as if the command
// exited 0).
type cutter struct {
	cuts  []int
	clean bool
	cmds  [][]string
}

func (c *cutter) run(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	i := len(c.cmds)
	c.cmds = append(c.cmds, cmd)
	if i >= len(c.cuts) || c.cuts[i] < 0 {
		return localExec(ctx, cmd, stdin, stdout, stderr)
	}
	var buf bytes.Buffer
	if err := localExec(ctx, cmd, stdin, &buf, stderr); err != nil {
		return err
	}
	n := min(c.cuts[i], buf.Len())
	if _, err := stdout.Write(buf.Bytes()[:n]); err != nil {
		return err
	}
	if c.clean {
		return nil
	}
	return errCut
}

func resumeTree(t *testing.T, name string) (src, want string) {
	base := t.TempDir()
	src = filepath.Join(base, name)
	makeTree(t, src)
	big := make([]byte, 300_000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(src, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	return src, describe(t, src)
}

// TestDownloadResumes: cut twice mid-stream, the copy resumes at the
// received byte count each time and the tree arrives whole.
func TestDownloadResumes(t *testing.T) {
	src, want := resumeTree(t, "it's a dir")
	c := &cutter{cuts: []int{100_000, 50_000}}
	var stdout bytes.Buffer
	dest := filepath.Join(t.TempDir(), "out")
	if err := Download(t.Context(), c.run, &DownloadOptions{Src: src, Dest: dest, Retries: 3, Stdout: &stdout, RetryDelay: noDelay}); err != nil {
		t.Fatalf("download: %v (stdout %q)", err, stdout.String())
	}
	if got := describe(t, dest); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	quoted := strings.ReplaceAll(src, "'", `'\''`)
	for i, offset := range []int{1, 100_001, 150_001} {
		want := fmt.Sprintf("[sh -c tar cf - '%s' | tail -c+%d]", quoted, offset)
		if i >= len(c.cmds) || fmt.Sprint(c.cmds[i]) != want {
			t.Errorf("attempt %d: got %v, want %s", i, c.cmds, want)
		}
	}
	for _, line := range []string{"Resuming copy at 100000 bytes, retry 1/3\n", "Resuming copy at 150000 bytes, retry 2/3\n"} {
		if !strings.Contains(stdout.String(), line) {
			t.Errorf("stdout %q: missing %q", stdout.String(), line)
		}
	}
}

// TestDownloadUnlimitedRetries: a negative count keeps resuming.
func TestDownloadUnlimitedRetries(t *testing.T) {
	src, want := resumeTree(t, "src")
	c := &cutter{cuts: []int{10_000, 10_000, 10_000, 10_000, 10_000}}
	var stdout bytes.Buffer
	dest := filepath.Join(t.TempDir(), "out")
	if err := Download(t.Context(), c.run, &DownloadOptions{Src: src, Dest: dest, Retries: -1, Stdout: &stdout, RetryDelay: noDelay}); err != nil {
		t.Fatal(err)
	}
	if got := describe(t, dest); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(stdout.String(), "Resuming copy at 50000 bytes, retry 5/-1\n") {
		t.Errorf("stdout %q: missing the fifth retry", stdout.String())
	}
}

// TestDownloadCutWithoutRetries: without retries a cut is an error, never a
// partial copy reported as success, whether the connection failed or the
// stream just stopped at an entry boundary.
func TestDownloadCutWithoutRetries(t *testing.T) {
	src, _ := resumeTree(t, "src")
	for _, tc := range []struct {
		name  string
		cut   int
		clean bool
		want  error
	}{
		{"connection-error-mid-data", 100_000, false, errCut},
		{"clean-eof-mid-data", 100_000, true, ErrTruncated},
		{"clean-eof-at-boundary", 1024, true, ErrTruncated}, // src/ and the first entry's header
		{"clean-eof-nothing", 0, true, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cutter{cuts: []int{tc.cut}, clean: tc.clean}
			err := Download(t.Context(), c.run, &DownloadOptions{Src: src, Dest: filepath.Join(t.TempDir(), "out")})
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if len(c.cmds) != 1 || c.cmds[0][0] != "tar" {
				t.Errorf("commands %v, want one plain tar", c.cmds)
			}
		})
	}
}

// TestDownloadRetriesExhausted: the last attempt's error comes back after
// kubectl's notice.
func TestDownloadRetriesExhausted(t *testing.T) {
	src, _ := resumeTree(t, "src")
	c := &cutter{cuts: []int{1000, 1000, 1000}}
	var stdout bytes.Buffer
	err := Download(t.Context(), c.run, &DownloadOptions{Src: src, Dest: filepath.Join(t.TempDir(), "out"), Retries: 2, Stdout: &stdout, RetryDelay: noDelay})
	if !errors.Is(err, errCut) {
		t.Errorf("got %v, want %v", err, errCut)
	}
	if len(c.cmds) != 3 || !strings.Contains(stdout.String(), "Resuming copy at 2000 bytes, retry 2/2\n") ||
		!strings.HasSuffix(stdout.String(), "Dropping out copy after 2 retries\n") {
		t.Errorf("%d attempts, stdout %q", len(c.cmds), stdout.String())
	}
}

// TestDownloadCancel: cancelling the context ends a download stuck on a
// silent remote, even with unlimited retries, and joins the exec.
func TestDownloadCancel(t *testing.T) {
	a := archive(t, dir("d"), reg("d/f", strings.Repeat("x", 10_000)))
	stuck := func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
		if _, err := stdout.Write(a[:1536]); err != nil {
			return err
		}
		<-ctx.Done() // a remote that stops talking
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	progress := func(n int64) { cancel() }
	err := Download(ctx, stuck, &DownloadOptions{Src: "d", Dest: filepath.Join(t.TempDir(), "out"), Retries: -1, Progress: progress})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// TestDownloadTrailer: a remote that keeps writing after the archive ended
// is cut off after maxTrailer bytes instead of read forever.
func TestDownloadTrailer(t *testing.T) {
	a := archive(t, dir("d"), reg("d/f", "x"))
	chatty := func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
		if _, err := stdout.Write(a); err != nil {
			return err
		}
		junk := bytes.Repeat([]byte{'j'}, 64<<10)
		for {
			if _, err := stdout.Write(junk); err != nil {
				return err
			}
		}
	}
	dest := filepath.Join(t.TempDir(), "out")
	err := Download(t.Context(), chatty, &DownloadOptions{Src: "d", Dest: dest})
	if !errors.Is(err, ErrTrailer) {
		t.Errorf("got %v, want ErrTrailer", err)
	}
	if b, rerr := os.ReadFile(filepath.Join(dest, "f")); rerr != nil || string(b) != "x" {
		t.Errorf("the archive's file: %q (%v)", b, rerr)
	}
}

// TestDownloadPadding: GNU tar's record padding after the end marker is
// read and the remote's exit status is still checked.
func TestDownloadPadding(t *testing.T) {
	a := archive(t, dir("d"), reg("d/f", "x"))
	padded := append(a, make([]byte, 20<<10)...)
	for _, tc := range []struct {
		name string
		exit error
	}{{"exit-0", nil}, {"exit-1", errCut}} {
		t.Run(tc.name, func(t *testing.T) {
			fake := func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
				if _, err := stdout.Write(padded); err != nil {
					return err
				}
				return tc.exit
			}
			err := Download(t.Context(), fake, &DownloadOptions{Src: "d", Dest: filepath.Join(t.TempDir(), "out")})
			if !errors.Is(err, tc.exit) || (tc.exit == nil && err != nil) {
				t.Errorf("got %v, want %v", err, tc.exit)
			}
		})
	}
}

func noDelay(int) time.Duration { return 0 }

func TestRetryDelay(t *testing.T) {
	for try, want := range map[int]time.Duration{
		1: 0, 2: 100 * time.Millisecond, 3: 200 * time.Millisecond, 6: 1600 * time.Millisecond,
		7: 3200 * time.Millisecond, 8: 5 * time.Second, 1000: 5 * time.Second,
	} {
		if got := RetryDelay(try); got != want {
			t.Errorf("RetryDelay(%d) = %v, want %v", try, got, want)
		}
	}
}

// TestDownloadRetryPause: a remote that keeps failing is retried after a
// pause, and cancelling during the pause ends the download (synctest: the
// pause runs on the fake clock, so the test takes no time).
func TestDownloadRetryPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var attempts int
		failing := func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
			attempts++
			if attempts == 3 {
				cancel()
			}
			return errCut
		}
		start := time.Now()
		err := Download(ctx, failing, &DownloadOptions{Src: "d", Dest: filepath.Join(t.TempDir(), "out"), Retries: -1})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		// attempt 1, retry 1 at once, retry 2 after 100ms, then cancelled
		// before retry 3's 200ms were over.
		if attempts != 3 || time.Since(start) != 100*time.Millisecond {
			t.Errorf("%d attempts in %v, want 3 in 100ms", attempts, time.Since(start))
		}
	})
}
