package streamtest

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/stream"
)

// ReadAll reads r to its end on a goroutine; the channel then gets what
// was read.
func ReadAll(r io.Reader) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		ch <- b
	}()
	return ch
}

// RunSession runs a client's session to its end: stdin (if the session
// has it) gets in and then its end, and the outputs and the error stream
// are read to their ends, whose bytes it returns.
func RunSession(t testing.TB, s *stream.Session, in []byte) (out, errOut, status []byte) {
	t.Helper()
	var o, e <-chan []byte
	if s.Stdout != nil {
		o = ReadAll(s.Stdout)
	}
	if s.Stderr != nil {
		e = ReadAll(s.Stderr)
	}
	st := ReadAll(s.Error)
	if s.Stdin != nil {
		if _, err := s.Stdin.Write(in); err != nil {
			t.Fatalf("write stdin: %v", err)
		}
		if err := s.Stdin.CloseWrite(); err != nil {
			t.Fatalf("close stdin: %v", err)
		}
	}
	if o != nil {
		out = <-o
	}
	if e != nil {
		errOut = <-e
	}
	return out, errOut, <-st
}

// FloodUntilBlocked writes to w on a goroutine until writes make no
// progress for a while, well past the 64 KiB of a pipe; the goroutine ends
// when a write fails.
func FloodUntilBlocked(t testing.TB, w io.Writer) {
	t.Helper()
	var n atomic.Int64
	go func() {
		buf := []byte(strings.Repeat("y\n", 16<<10))
		for {
			k, err := w.Write(buf)
			n.Add(int64(k))
			if err != nil {
				return
			}
		}
	}()
	last := int64(-1)
	for deadline := time.Now().Add(30 * time.Second); ; {
		time.Sleep(300 * time.Millisecond)
		cur := n.Load()
		if cur == last && cur > 256<<10 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes never blocked (%d bytes written)", cur)
		}
		last = cur
	}
}

// ProcWithMarker reports whether a process whose command line holds
// marker runs (Linux /proc).
func ProcWithMarker(marker string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(marker)) {
			return true
		}
	}
	return false
}

// WaitProc waits until a process whose command line holds marker runs
// (present) or is gone.
func WaitProc(t testing.TB, marker string, present bool) {
	t.Helper()
	for deadline := time.Now().Add(Timeout); ProcWithMarker(marker) != present; {
		if time.Now().After(deadline) {
			t.Fatalf("process %q: still present=%v", marker, !present)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
