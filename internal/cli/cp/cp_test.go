package cp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFlags parses command lines through NewCmd and checks the options
// that reach the run step, or the usage error.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // fmt of the client options for namespace "ctxns", or the error
	}{
		{"upload", []string{"/tmp/a", "web:/srv/a"},
			"dir=1 ns=ctxns pod=web c= local=/tmp/a remote=/srv/a nopreserve=false retries=0 wire="},
		{"download-ns-container-retries", []string{"-c", "app", "--retries=-1", "other/web:/var/log", "logs"},
			"dir=2 ns=other pod=web c=app local=logs remote=/var/log nopreserve=false retries=-1 wire="},
		{"namespace-flag", []string{"-n", "flagns", "--no-preserve", "--protocol", "spdy", "f", "web:f"},
			"dir=1 ns=flagns pod=web c= local=f remote=f nopreserve=true retries=0 wire=spdy"},
		{"spec-ns-wins", []string{"-n", "flagns", "f", "specns/web:f"},
			"dir=1 ns=specns pod=web c= local=f remote=f nopreserve=false retries=0 wire="},
		{"local-with-colon", []string{"./a:b", "web:/x"},
			"dir=1 ns=ctxns pod=web c= local=./a:b remote=/x nopreserve=false retries=0 wire="},
		{"one-arg", []string{"a"}, "error: source and destination are required"},
		{"both-local", []string{"a", "b"}, "error: one of src or dest must be a remote file specification"},
		{"both-remote", []string{"p:a", "q:b"}, "error: one of src or dest must be a local file specification"},
		{"empty-remote", []string{"a", "p:"}, "error: filepath can not be empty"},
		{"leading-colon", []string{":a", "p:b"}, "error: filespec must match the canonical format: [[namespace/]pod:]file/path"},
		{"too-many-slashes", []string{"a/b/c:d", "x"}, "error: filespec must match the canonical format: [[namespace/]pod:]file/path"},
		{"bad-protocol", []string{"--protocol", "tcp", "a", "p:b"}, "error: --protocol: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cli.Factory{IOStreams: ios}
			var got string
			cmd := NewCmd(f, func(_ context.Context, o *Options) error {
				c := o.CopyOptions("ctxns")
				got = fmt.Sprintf("dir=%d ns=%s pod=%s c=%s local=%s remote=%s nopreserve=%v retries=%d wire=%s",
					c.Direction, c.Namespace, c.Pod, c.Container, c.Local, c.Remote, c.NoPreserve, c.Retries, c.Wire)
				return nil
			})
			cli.AddGlobalFlags(cmd.PersistentFlags())
			cmd.SetArgs(tc.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			if err := cmd.Execute(); err != nil {
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestProgress: the line is redrawn at most every redrawEvery, shows the
// total and the rate, and ends with a newline; nothing is drawn for a copy
// that reported no bytes.
func TestProgress(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	var out bytes.Buffer
	p := newProgress(&out, func() time.Time { return now })
	p.update(1024) // first update draws
	p.update(2048) // same instant: throttled
	now = now.Add(100 * time.Millisecond)
	p.update(4096) // still throttled
	now = start.Add(2 * time.Second)
	p.update(4 << 20) // drawn: 4 MiB in 2 s
	p.done()
	now = now.Add(time.Hour)
	p.update(8 << 20) // a late update from a copier still running: dropped
	p.done()
	lines := strings.Split(out.String(), "\r\x1b[K")
	want := []string{
		"",
		fmt.Sprintf("%10s  %10s/s", "1.0 KiB", "0 B"),
		fmt.Sprintf("%10s  %10s/s", "4.0 MiB", "2.0 MiB"),
		fmt.Sprintf("%10s  %10s/s\n", "4.0 MiB", "2.0 MiB"),
	}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("drawn %q, want %q", lines, want)
	}
	var quiet bytes.Buffer
	newProgress(&quiet, time.Now).done()
	if quiet.Len() != 0 {
		t.Errorf("no bytes: drawn %q, want nothing", quiet.String())
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
}

// TestExplain: a bare remote exit code prints nothing (the remote tar
// said why); one wrapped in a broken stream's context is printed.
func TestExplain(t *testing.T) {
	exit := &client.ExitError{Code: 2}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{exit, ""},
		{fmt.Errorf("write big: %w", exit), "error: write big: " + exit.Error() + "\n"},
		{client.ErrTruncated, ""},
	} {
		var out bytes.Buffer
		explain(&out, tc.err)
		if out.String() != tc.want {
			t.Errorf("explain(%v) printed %q, want %q", tc.err, out.String(), tc.want)
		}
	}
}
