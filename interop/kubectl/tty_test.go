package kubectl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/porthole/porthole/interop/internal/harness"
)

// ptySession is kubectl running under a real pseudo-terminal, so kubectl
// sees a terminal, goes raw and sends sizes like it does for a user.
type ptySession struct {
	ptmx   *os.File
	lines  chan string
	done   chan error // kubectl's exit
	cancel context.CancelFunc
	readEr chan struct{}
}

// startPTY starts kubectl args on a new pty of the given size. Lines read
// from the terminal (with \r stripped) arrive on lines; the channel is
// closed when the pty reports EOF/EIO after kubectl exits.
func (c *client) startPTY(t *testing.T, rows, cols uint16, args ...string) *ptySession {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	cmd := c.command(ctx, args...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		cancel()
		t.Fatalf("start kubectl on a pty: %v", err)
	}
	s := &ptySession{ptmx: ptmx, lines: make(chan string, 1024), done: make(chan error, 1), cancel: cancel, readEr: make(chan struct{})}
	go s.readLines()
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-s.readEr
		ptmx.Close()
	})
	return s
}

// readLines splits the terminal output into lines. It ends when the pty
// master read fails, which on Linux happens once kubectl (the only holder
// of the slave) has exited.
func (s *ptySession) readLines() {
	defer close(s.readEr)
	defer close(s.lines)
	br := bufio.NewReader(s.ptmx)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			s.lines <- strings.TrimRight(line, "\r\n")
		}
		if err != nil {
			return
		}
	}
}

var sizeLine = regexp.MustCompile(`^\s*(\d+) (\d+)\s*$`)

// nextSize returns the next "rows cols" line, failing if the output ends
// first. Other lines (echo, prompts) are skipped.
func (s *ptySession) nextSize(t *testing.T) string {
	t.Helper()
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("terminal output ended before a size line")
			}
			if sizeLine.MatchString(l) {
				return strings.TrimSpace(l)
			}
		case <-t.Context().Done():
			t.Fatal("test context ended")
		}
	}
}

// wait waits for kubectl to exit and for the output to drain; it returns
// kubectl's exit code and the remaining lines.
func (s *ptySession) wait(t *testing.T) (int, []string) {
	t.Helper()
	var rest []string
	for l := range s.lines {
		rest = append(rest, l)
	}
	err := <-s.done
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
	}
	return code, rest
}

// testTTYSize: `kubectl exec -it pod -- stty size` must print the size of
// kubectl's terminal, every time (a server that starts the process before
// applying the first resize prints "0 0" or the default 24 80).
func (c *client) testTTYSize(t *testing.T) {
	sizes := [][2]uint16{{37, 101}, {50, 132}, {13, 47}, {61, 203}}
	for i, sz := range sizes {
		t.Run(fmt.Sprintf("run-%d", i), func(t *testing.T) {
			mark := env.Server.Proxy.Mark()
			s := c.startPTY(t, sz[0], sz[1], "exec", "-it", harness.PodExec, "--", "stty", "size")
			got := s.nextSize(t)
			code, rest := s.wait(t)
			c.checkWire(t, mark)
			if want := fmt.Sprintf("%d %d", sz[0], sz[1]); got != want {
				t.Errorf("stty size: got %q, want %q", got, want)
			}
			if code != 0 {
				t.Errorf("exit code: got %d, want 0 (output %q)", code, rest)
			}
		})
	}
}

// testTTYResize changes kubectl's terminal size mid-session (the kernel
// sends kubectl SIGWINCH) and expects the remote terminal to follow. The
// resize travels on its own channel, so the test asks again until the new
// size shows; each question is a round trip, no timer involved.
func (c *client) testTTYResize(t *testing.T) {
	mark := env.Server.Proxy.Mark()
	s := c.startPTY(t, 24, 80, "exec", "-it", harness.PodExec, "--",
		"sh", "-c", `stty size; while read x; do stty size; done`)
	if got := s.nextSize(t); got != "24 80" {
		t.Fatalf("initial stty size: got %q, want %q", got, "24 80")
	}
	for i, sz := range [][2]uint16{{40, 120}, {30, 90}} {
		if err := pty.Setsize(s.ptmx, &pty.Winsize{Rows: sz[0], Cols: sz[1]}); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%d %d", sz[0], sz[1])
		var got string
		for try := 0; try < 200 && got != want; try++ {
			if _, err := io.WriteString(s.ptmx, "\n"); err != nil {
				t.Fatalf("write to terminal: %v", err)
			}
			got = s.nextSize(t)
		}
		if got != want {
			t.Fatalf("resize %d: stty size got %q, want %q", i, got, want)
		}
	}
	// Ctrl-D: the remote read sees end of input, the loop and sh end.
	if _, err := io.WriteString(s.ptmx, "\x04"); err != nil {
		t.Fatal(err)
	}
	code, rest := s.wait(t)
	c.checkWire(t, mark)
	if code != 0 {
		t.Errorf("exit code: got %d, want 0 (output %q)", code, rest)
	}
}
