package client

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/protocol/resize"
)

// TestLibraryStdout: 64 MiB of binary data on stdout, byte-exact.
func TestLibraryStdout(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			out, errOut := harness.NewHashWriter(), harness.NewHashWriter()
			err := tg.exec(t, sessionCtx(t), []string{"cat", env.Data.Path}, client.StreamOptions{Stdout: out, Stderr: errOut})
			if err != nil {
				t.Fatal(err)
			}
			if out.Len() != env.Data.Size || out.Sum() != env.Data.SHA256 || errOut.Len() != 0 {
				t.Errorf("stdout %d bytes sha256 %s, stderr %d bytes; want %d bytes sha256 %s and no stderr",
					out.Len(), out.Sum(), errOut.Len(), env.Data.Size, env.Data.SHA256)
			}
		})
	}
}

// TestLibraryStderr: the same on stderr.
func TestLibraryStderr(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			out, errOut := harness.NewHashWriter(), harness.NewHashWriter()
			err := tg.exec(t, sessionCtx(t), []string{"sh", "-c", `cat "$0" >&2`, env.Data.Path}, client.StreamOptions{Stdout: out, Stderr: errOut})
			if err != nil {
				t.Fatal(err)
			}
			if errOut.Len() != env.Data.Size || errOut.Sum() != env.Data.SHA256 || out.Len() != 0 {
				t.Errorf("stderr %d bytes sha256 %s, stdout %d bytes; want %d bytes sha256 %s and no stdout",
					errOut.Len(), errOut.Sum(), out.Len(), env.Data.Size, env.Data.SHA256)
			}
		})
	}
}

// TestLibraryStdinEOF: 16 MiB through cat; cat only exits when the
// half-close (v5 close signal or SPDY FIN) arrives.
func TestLibraryStdinEOF(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			in, err := os.Open(env.Input.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			out := harness.NewHashWriter()
			if err := tg.exec(t, sessionCtx(t), []string{"cat"}, client.StreamOptions{Stdin: in, Stdout: out, Stderr: io.Discard}); err != nil {
				t.Fatal(err)
			}
			if out.Len() != env.Input.Size || out.Sum() != env.Input.SHA256 {
				t.Errorf("stdout %d bytes sha256 %s, want the input's %d bytes sha256 %s", out.Len(), out.Sum(), env.Input.Size, env.Input.SHA256)
			}
		})
	}
}

// TestLibraryExitCodes: 0, 1, 42, 255 and SIGKILL (137) come back exactly.
func TestLibraryExitCodes(t *testing.T) {
	for _, tg := range targets(t) {
		for _, code := range []int{0, 1, 42, 255, 137} {
			t.Run(fmt.Sprintf("%s/exit-%d", tg.name, code), func(t *testing.T) {
				script := fmt.Sprintf("echo before; exit %d", code)
				if code == 137 {
					script = "echo before; kill -9 $$"
				}
				var out strings.Builder
				err := tg.exec(t, sessionCtx(t), []string{"sh", "-c", script}, client.StreamOptions{Stdout: &out, Stderr: io.Discard})
				var ee *client.ExitError
				switch {
				case code == 0 && err != nil:
					t.Errorf("got %v, want success", err)
				case code != 0 && (!errors.As(err, &ee) || ee.Code != code):
					t.Errorf("got %v, want exit code %d", err, code)
				}
				if out.String() != "before\n" {
					t.Errorf("stdout %q, want \"before\\n\"", out.String())
				}
			})
		}
	}
}

// TestLibraryTTYResize: the initial size arrives (before the command runs
// where the peer waits for it), and a resize mid-session reaches the remote
// terminal (the remote script waits for it to change).
func TestLibraryTTYResize(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			sizes := make(chan resize.Size, 2)
			sizes <- resize.Size{Width: 100, Height: 30}
			out := &lineWriter{lines: make(chan string, 16)}
			script := `stty size; while [ "$(stty size)" = "30 100" ]; do sleep 0.05; done; stty size`
			if tg.lateSize {
				script = `while [ "$(stty size)" = "0 0" ]; do sleep 0.05; done; ` + script
			}
			errc := make(chan error, 1)
			ctx := sessionCtx(t)
			go func() {
				errc <- tg.exec(t, ctx, []string{"sh", "-c", script}, client.StreamOptions{Stdout: out, TTY: true, Sizes: sizes})
			}()
			select {
			case l := <-out.lines:
				if l != "30 100" {
					t.Errorf("initial size %q, want \"30 100\"", l)
				}
			case err := <-errc:
				t.Fatalf("session ended before the first line: %v", err)
			}
			sizes <- resize.Size{Width: 132, Height: 43}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if l := out.rest(); l != "43 132" {
				t.Errorf("size after resize %q, want \"43 132\"", l)
			}
		})
	}
}

// lineWriter sends the first line written on lines and keeps the rest.
type lineWriter struct {
	lines chan string
	buf   strings.Builder
	sent  bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if s := w.buf.String(); !w.sent && strings.Contains(s, "\n") {
		line, rest, _ := strings.Cut(s, "\n")
		w.sent = true
		w.lines <- strings.TrimRight(line, "\r")
		w.buf.Reset()
		w.buf.WriteString(rest)
	}
	return len(p), nil
}

// rest is what followed the first line, trimmed (read after the session).
func (w *lineWriter) rest() string { return strings.TrimSpace(w.buf.String()) }
