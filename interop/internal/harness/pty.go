package harness

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// PTY is a client (kubectl) running under a real pseudo-terminal, so it
// sees a terminal, goes raw and sends sizes as it does for a user.
type PTY struct {
	Ptmx *os.File
	// Lines are read from the terminal (\r stripped); closed when the pty
	// reports EOF/EIO after the client exits.
	Lines chan string
	// Done receives the client's exit.
	Done   chan error
	Cancel context.CancelFunc // kills the client (its command's context)

	readEr chan struct{}
	seen   []string // lines taken by NextSize, for failure messages
}

// StartPTY starts cmd, bound to the context that cancel ends, on a new pty
// of the given size; the test's cleanup kills it and closes the pty.
func StartPTY(t *testing.T, cmd *exec.Cmd, cancel context.CancelFunc, rows, cols uint16) *PTY {
	t.Helper()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		cancel()
		t.Fatalf("start %s on a pty: %v", cmd.Path, err)
	}
	s := &PTY{Ptmx: ptmx, Lines: make(chan string, 1024), Done: make(chan error, 1), Cancel: cancel, readEr: make(chan struct{})}
	go s.readLines()
	go func() { s.Done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-s.readEr
		ptmx.Close()
	})
	return s
}

// readLines splits the terminal output into lines. It ends when the pty
// master read fails, which on Linux happens once the client (the only
// holder of the slave) has exited.
func (s *PTY) readLines() {
	defer close(s.readEr)
	defer close(s.Lines)
	br := bufio.NewReader(s.Ptmx)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			s.Lines <- strings.TrimRight(line, "\r\n")
		}
		if err != nil {
			return
		}
	}
}

// sizeLine is what `stty size` prints, possibly after the shell's prompt:
// the terminal echoes a line typed ahead at once, and the shell writes its
// next prompt before it reads that line, so the answer can share a line
// with the prompt ("# 21 71").
var sizeLine = regexp.MustCompile(`^(?:[#$] )*\s*(\d+) (\d+)\s*$`)

// NextSize returns the next "rows cols" line (what `stty size` prints),
// failing if the output ends first. Other lines (echo, prompts) are
// skipped, and shown if it fails.
func (s *PTY) NextSize(t *testing.T) string {
	t.Helper()
	for {
		select {
		case l, ok := <-s.Lines:
			if !ok {
				t.Fatalf("terminal output ended before a size line; it showed %q", s.seen)
			}
			s.seen = append(s.seen, l)
			if m := sizeLine.FindStringSubmatch(l); m != nil {
				return m[1] + " " + m[2]
			}
		case <-t.Context().Done():
			t.Fatal("test context ended")
		}
	}
}

// AwaitSize types ask (a line on which the remote shell prints `stty
// size`) until the size it reports is want, and returns the last size it
// reported. A resize travels on its own channel and races what is typed,
// so each try is one more round trip, bounded in number, no timer.
func (s *PTY) AwaitSize(t *testing.T, ask, want string) string {
	t.Helper()
	got := ""
	for try := 0; try < 200 && got != want; try++ {
		if _, err := io.WriteString(s.Ptmx, ask); err != nil {
			t.Fatalf("write to terminal: %v", err)
		}
		got = s.NextSize(t)
	}
	return got
}

// Wait waits for the client to exit and for the output to drain; it
// returns the exit code and the remaining lines.
func (s *PTY) Wait(t *testing.T) (int, []string) {
	t.Helper()
	var rest []string
	for l := range s.Lines {
		rest = append(rest, l)
	}
	err := <-s.Done
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
	}
	return code, rest
}
