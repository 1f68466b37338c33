package cp

import (
	"fmt"
	"io"
	"time"
)

// redrawEvery throttles the progress line.
const redrawEvery = 200 * time.Millisecond

func nowFunc() time.Time { return time.Now() }

// progress draws "  12.5 MiB  3.1 MiB/s" on one terminal line, at most every
// redrawEvery, and a final line when the copy ends. update is called from
// the goroutine moving the bytes and done after it ended, so no lock.
type progress struct {
	w            io.Writer
	now          func() time.Time
	start, drawn time.Time
	total        int64
	shown        bool
}

func newProgress(w io.Writer, now func() time.Time) *progress {
	return &progress{w: w, now: now, start: now()}
}

func (p *progress) update(total int64) {
	p.total = total
	if t := p.now(); !p.shown || t.Sub(p.drawn) >= redrawEvery {
		p.draw(t)
	}
}

func (p *progress) draw(t time.Time) {
	rate := 0.0
	if d := t.Sub(p.start).Seconds(); d > 0 {
		rate = float64(p.total) / d
	}
	fmt.Fprintf(p.w, "\r\x1b[K%10s  %10s/s", formatBytes(float64(p.total)), formatBytes(rate))
	p.drawn, p.shown = t, true
}

// done draws the final count and ends the line, if anything was drawn.
func (p *progress) done() {
	if p.shown {
		p.draw(p.now())
		fmt.Fprintln(p.w)
	}
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
