package clientgo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/porthole/porthole/interop/internal/harness"
)

// lineSink splits what the session writes into lines for the test.
type lineSink struct {
	buf   []byte
	lines chan string
}

func (s *lineSink) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		s.lines <- strings.TrimRight(string(s.buf[:i]), "\r")
		s.buf = s.buf[i+1:]
	}
}

var sizeRe = regexp.MustCompile(`^(\d+) (\d+)$`)

// testTTYResize sends a new size through the TerminalSizeQueue mid-session
// and expects the remote terminal to report it. Resize and stdin travel on
// different channels, so the test asks again (one round trip each, bounded
// in number) until the new size shows.
func (x executor) testTTYResize(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), sessionTimeout)
	defer cancel()
	q := &sizeQueue{sizes: make(chan remotecommand.TerminalSize, 1), done: ctx.Done()}
	q.sizes <- remotecommand.TerminalSize{Width: 80, Height: 24}
	u := streamURL(t, "exec", harness.PodExec, "", true, true, false, true,
		"sh", "-c", "stty size; while read x; do stty size; done")
	inR, inW := io.Pipe()
	out := &lineSink{lines: make(chan string, 4096)}
	errc := make(chan error, 1)
	e := x.make(t, u)
	go runSession(ctx, e, remotecommand.StreamOptions{Stdin: inR, Stdout: out, Tty: true, TerminalSizeQueue: q}, errc)
	next := func() string {
		for {
			select {
			case l := <-out.lines:
				if sizeRe.MatchString(l) {
					return l
				}
			case err := <-errc:
				t.Fatalf("session ended early: %v", err)
			}
		}
	}
	if got := next(); got != "24 80" {
		t.Fatalf("initial size: got %q, want %q", got, "24 80")
	}
	for _, sz := range []remotecommand.TerminalSize{{Width: 120, Height: 40}, {Width: 90, Height: 30}} {
		q.sizes <- sz
		want, got := fmt.Sprintf("%d %d", sz.Height, sz.Width), ""
		for try := 0; try < 200 && got != want; try++ {
			if _, err := io.WriteString(inW, "\n"); err != nil {
				t.Fatal(err)
			}
			got = next()
		}
		if got != want {
			t.Fatalf("after resize: got %q, want %q", got, want)
		}
	}
	// Ctrl-D ends the remote read loop; the shell exits 0.
	if _, err := io.WriteString(inW, "\x04"); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("session: got %v, want success", err)
	}
	inW.Close()
}

func runSession(ctx context.Context, e remotecommand.Executor, opts remotecommand.StreamOptions, errc chan<- error) {
	errc <- e.StreamWithContext(ctx, opts)
}
