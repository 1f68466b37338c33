package cp

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// redrawEvery throttles the progress line.
const redrawEvery = 200 * time.Millisecond

func nowFunc() time.Time { return time.Now() }

// progress draws "  12.5 MiB  3.1 MiB/s" on one terminal line, at most every
// redrawEvery, and a final line when the copy ends. update runs on the
// goroutine moving the bytes, which the client may leave running briefly
// after the copy returned (a stdin copier ends at its next read), so the
// state has a lock and updates after done are dropped. The lock is never
// held while writing; w serializes the writes (see syncWriter).
type progress struct {
	w   io.Writer
	now func() time.Time

	mu           sync.Mutex
	start, drawn time.Time
	total        int64
	shown, ended bool
}

func newProgress(w io.Writer, now func() time.Time) *progress {
	return &progress{w: w, now: now, start: now()}
}

func (p *progress) update(total int64) {
	p.mu.Lock()
	var line string
	if !p.ended {
		p.total = total
		if t := p.now(); !p.shown || t.Sub(p.drawn) >= redrawEvery {
			line = p.line(t)
		}
	}
	p.mu.Unlock()
	if line != "" {
		io.WriteString(p.w, line)
	}
}

// line renders the state at t and records the drawing; p.mu is held.
func (p *progress) line(t time.Time) string {
	rate := 0.0
	if d := t.Sub(p.start).Seconds(); d > 0 {
		rate = float64(p.total) / d
	}
	p.drawn, p.shown = t, true
	return fmt.Sprintf("\r\x1b[K%10s  %10s/s", formatBytes(float64(p.total)), formatBytes(rate))
}

// done draws the final count and ends the line, if anything was drawn.
func (p *progress) done() {
	p.mu.Lock()
	var line string
	if p.shown && !p.ended {
		line = p.line(p.now()) + "\n"
	}
	p.ended = true
	p.mu.Unlock()
	if line != "" {
		io.WriteString(p.w, line)
	}
}

// syncWriter serializes the writes of the remote stderr copier and the
// progress line to the same terminal. It holds its lock across Write, as
// log.Logger does: a write to stderr is the one I/O this lock exists for,
// and it guards nothing else.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// formatBytes renders n with a binary unit, kubectl-free and short.
func formatBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
