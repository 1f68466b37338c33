package gateway

import (
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/stream"
)

// Live sessions: every exec and attach session through the gateway is
// listed here from its start to its end, so that an authorized user can
// list it, watch its output or join it (sessionsapi.go). Watchers never
// slow the session: the output reaches them through a bounded buffer
// each, and one that falls further behind than that is dropped. Only a
// session whose stdin the gateway writes itself (a bridged or resumable
// one, not a spliced one) can be joined.
const (
	// liveSnapshotBytes is the recent output a new watcher starts from:
	// enough to redraw a screen or two.
	liveSnapshotBytes = 64 << 10
	// watcherLagBytes is how far a watcher may fall behind the session's
	// output before it is dropped.
	watcherLagBytes = 1 << 20
	// maxWatchers bounds the watchers of one session.
	maxWatchers = 16
	// gateHoldBytes bounds the stdin a held (moderated) session keeps
	// until its moderator joins; beyond it the writer waits.
	gateHoldBytes = 1 << 20
	// maxNotices bounds the notice lines waiting for the owner's client.
	maxNotices = 32
)

// errWatcherGone ends a join's input once its watcher left or the session ended.
var errWatcherGone = errors.New("the session or the watcher is gone")

// whyTooSlow is why a watcher was dropped.
const whyTooSlow = "the watcher fell behind the session's output by more than its buffer"

// errHeldFull refuses a joiner's input beyond what a held session keeps.
var errHeldFull = errors.New("the session's held input is full: it waits for a moderator")

// liveSessions is the registry of the live sessions by id.
type liveSessions struct {
	mu sync.Mutex
	m  map[string]*live
}

func (ls *liveSessions) add(l *live) {
	ls.mu.Lock()
	if ls.m == nil {
		ls.m = map[string]*live{}
	}
	ls.m[l.s.id] = l
	ls.mu.Unlock()
}

func (ls *liveSessions) remove(id string) {
	ls.mu.Lock()
	delete(ls.m, id)
	ls.mu.Unlock()
}

func (ls *liveSessions) get(id string) *live {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.m[id]
}

// list returns the sessions in namespace ns ("": all), oldest first.
func (ls *liveSessions) list(ns string) []*live {
	ls.mu.Lock()
	out := make([]*live, 0, len(ls.m))
	for _, l := range ls.m {
		if ns == "" || l.s.namespace == ns {
			out = append(out, l)
		}
	}
	ls.mu.Unlock()
	slices.SortFunc(out, func(a, b *live) int { return a.s.start.Compare(b.s.start) })
	return out
}

// live is one session as watchers see it. Its methods are safe on a nil
// *live (a port-forward, which is not listed).
type live struct {
	s         *session
	moderated bool // its stdin is held until a moderator joins

	mu       sync.Mutex
	cond     *sync.Cond
	tail     outputTail // the last liveSnapshotBytes of output
	watchers []*watcher
	width    int
	height   int
	gate     *stdinGate       // nil: its stdin cannot be joined
	rec      *audit.Recording // the session's recording, for markers (nil: none)
	notices  []string         // for the owner's client, oldest first
	noticing bool             // a notice pump runs (the owner can be told)
	noticed  bool             // the notice pump was stopped: no more notices
	ended    bool
}

func newLive(s *session, moderated bool) *live {
	l := &live{s: s, moderated: moderated}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// Write takes the session's output (stdout, the recording's bytes): kept
// for the snapshot and handed to every watcher. It never blocks nor fails.
func (l *live) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tail.write(p)
	for _, w := range l.watchers {
		w.push(p)
	}
	return len(p), nil
}

// outputTail keeps the last liveSnapshotBytes of a session's output. It
// grows by append until full, so a session that writes little holds
// little, and then wraps: each byte is copied once. (Shifting a full buffer
// to make room copied the whole buffer per write: 64 KiB for every
// keystroke's echo, and twice the output for bulk writes.)
type outputTail struct {
	buf []byte
	pos int // once full, where the oldest byte is and the next one goes
}

func (t *outputTail) write(p []byte) {
	const size = liveSnapshotBytes
	if len(p) >= size {
		if cap(t.buf) < size {
			t.buf = make([]byte, size)
		}
		t.buf = t.buf[:size]
		copy(t.buf, p[len(p)-size:])
		t.pos = 0
		return
	}
	if room := size - len(t.buf); room > 0 {
		if len(p) <= room {
			t.buf = append(t.buf, p...)
			return
		}
		t.buf = append(t.buf, p[:room]...)
		p = p[room:]
	}
	n := copy(t.buf[t.pos:], p)
	copy(t.buf, p[n:])
	t.pos = (t.pos + len(p)) % size
}

// bytes is a copy of the tail, oldest byte first.
func (t *outputTail) bytes() []byte {
	out := make([]byte, 0, len(t.buf))
	return append(append(out, t.buf[t.pos:]...), t.buf[:t.pos]...)
}

// setRecording names the session's recording, for markers.
func (l *live) setRecording(rec *audit.Recording) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.rec = rec
	l.mu.Unlock()
}

// marker records label in the session's recording, if any.
func (l *live) marker(label string) {
	l.mu.Lock()
	rec := l.rec
	l.mu.Unlock()
	if rec != nil {
		rec.Marker(label)
	}
}

// resize notes the owner's terminal size.
func (l *live) resize(width, height int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.width, l.height = width, height
	l.mu.Unlock()
}

// tap is the writer of the session's recorded output: the recording and,
// for listed sessions, the watchers (nil when neither).
func (s *session) tap(rec *audit.Recording) io.Writer {
	switch {
	case s.live == nil && rec == nil:
		return nil
	case s.live == nil:
		return rec
	case rec == nil:
		return s.live
	}
	return io.MultiWriter(rec, s.live)
}

// stdinSink is where the gateway writes the session's stdin upstream: dst
// itself, or for a listed session a gate that joiners write into too and
// that holds the input of a moderated session until its moderator joins.
func (s *session) stdinSink(dst stream.Stream) interface {
	io.Writer
	CloseWrite() error
} {
	l := s.live
	if l == nil {
		return dst
	}
	gt := &stdinGate{dst: dst, held: l.moderated}
	gt.cond = sync.NewCond(&gt.mu)
	l.mu.Lock()
	l.gate = gt
	ended := l.ended
	l.mu.Unlock()
	if ended {
		gt.close()
	}
	return gt
}

// joinable reports whether joiners' keystrokes can reach the session.
func (l *live) joinable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gate != nil
}

// held reports whether the session's stdin waits for a moderator.
func (l *live) held() bool {
	l.mu.Lock()
	gt := l.gate
	l.mu.Unlock()
	if gt == nil {
		return l.moderated
	}
	gt.mu.Lock()
	defer gt.mu.Unlock()
	return gt.held
}

// release lets a moderated session's stdin through (its moderator joined).
func (l *live) release() {
	l.mu.Lock()
	gt := l.gate
	l.mu.Unlock()
	if gt != nil {
		gt.release()
	}
}

// inject writes a joiner's keystrokes into the session's stdin.
func (l *live) inject(p []byte) error {
	l.mu.Lock()
	gt := l.gate
	l.mu.Unlock()
	if gt == nil {
		return errWatcherGone
	}
	_, err := gt.write(p, false)
	return err
}

// notify queues a notice line for the owner's client (dropped when the
// owner cannot be told or too many wait).
func (l *live) notify(line string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Queued before the pump starts too: a watcher may come between the
	// session's listing and its bridge's start (CI42 lost the notice).
	if !l.noticed && !l.ended && len(l.notices) < maxNotices {
		l.notices = append(l.notices, line)
		l.cond.Broadcast()
	}
}

// noticeWriter serialises the session's writes to the owner's client
// stream that carries the notices with the notices themselves.
type noticeWriter struct {
	mu  sync.Mutex
	dst io.Writer
}

func (n *noticeWriter) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dst.Write(p)
}

// startNotices makes dst (the owner's stdout with a tty, else its stderr)
// carry notice lines; it returns the writer the session's own copy to dst
// must use and the function that stops the pump and waits for it.
func (l *live) startNotices(dst io.Writer, tty bool) (io.Writer, func()) {
	if l == nil || dst == nil {
		return dst, func() {}
	}
	nw := &noticeWriter{dst: dst}
	l.mu.Lock()
	l.noticing = true
	l.mu.Unlock()
	done := make(chan struct{})
	stopped := false
	go func() {
		defer close(done)
		for {
			l.mu.Lock()
			for len(l.notices) == 0 && l.noticing {
				l.cond.Wait()
			}
			if !l.noticing {
				l.mu.Unlock()
				return
			}
			line := l.notices[0]
			l.notices = l.notices[1:]
			l.mu.Unlock()
			if _, err := nw.Write([]byte(formatNotice(line, tty))); err != nil {
				return
			}
		}
	}()
	return nw, func() {
		if stopped {
			return
		}
		stopped = true
		l.mu.Lock()
		l.noticing, l.noticed = false, true
		l.notices = nil
		l.cond.Broadcast()
		l.mu.Unlock()
		<-done
	}
}

// formatNotice is a notice as the owner's terminal shows it: on a line of
// its own, with the carriage returns a raw terminal needs.
func formatNotice(line string, tty bool) string {
	if tty {
		return "\r\n[porthole] " + line + "\r\n"
	}
	return "[porthole] " + line + "\n"
}

// end closes the session to watchers: each gets what it was sent, then
// the end. Called once, as the session ends.
func (l *live) end() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.ended = true
	ws := l.watchers
	l.watchers = nil
	gt := l.gate
	l.cond.Broadcast()
	l.mu.Unlock()
	for _, w := range ws {
		w.stop("")
	}
	if gt != nil {
		gt.close()
	}
}

// addWatcher registers w, which starts from the snapshot; false when the
// session ended or has its share of watchers.
func (l *live) addWatcher(w *watcher) (ok bool, full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false, false
	}
	if len(l.watchers) >= maxWatchers {
		return false, true
	}
	w.push(l.tail.bytes())
	l.watchers = append(l.watchers, w)
	return true, false
}

func (l *live) removeWatcher(w *watcher) {
	l.mu.Lock()
	l.watchers = slices.DeleteFunc(l.watchers, func(x *watcher) bool { return x == w })
	l.mu.Unlock()
}

// watcher is one watching or joined connection.
type watcher struct {
	user   string
	join   bool
	mod    bool // a moderator
	since  time.Time
	lagMax int
	// drop, when set, is called (once, without blocking) as the watcher
	// is dropped for falling behind: it aborts the watcher's connection,
	// whose handler may be stuck writing to it.
	drop func()

	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	stopped bool
	why     string // why it was stopped early ("" when the session ended)
}

func newWatcher(user string, join, mod bool) *watcher {
	w := &watcher{user: user, join: join, mod: mod, since: time.Now(), lagMax: watcherLagBytes}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// push queues output for the watcher; one too far behind is stopped.
func (w *watcher) push(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if len(w.buf)+len(p) > w.lagMax {
		w.stopped, w.why, w.buf = true, whyTooSlow, nil
		w.cond.Broadcast()
		if w.drop != nil {
			w.drop()
		}
		return
	}
	w.buf = append(w.buf, p...)
	w.cond.Broadcast()
}

// stop ends the watcher; the first reason stays.
func (w *watcher) stop(why string) {
	w.mu.Lock()
	if !w.stopped {
		w.stopped, w.why = true, why
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

// next waits for queued output; with none left after a stop it returns
// nil and why the watcher stopped.
func (w *watcher) next() ([]byte, bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.buf) == 0 && !w.stopped {
		w.cond.Wait()
	}
	if len(w.buf) > 0 && (!w.stopped || w.why == "") {
		p := w.buf
		w.buf = nil
		return p, true, ""
	}
	return nil, false, w.why
}

// stdinGate writes a session's stdin upstream for its owner and its
// joiners, one write at a time in the order they came, and holds it while
// the session waits for a moderator.
type stdinGate struct {
	dst stream.Stream
	wmu sync.Mutex // held across each upstream write: order and one writer

	mu     sync.Mutex
	cond   *sync.Cond
	held   bool
	queue  []byte // held input, in order
	eof    bool   // the owner's stdin ended while held
	closed bool
}

func (gt *stdinGate) Write(p []byte) (int, error) { return gt.write(p, true) }

// write writes p upstream, or queues it while held; a full queue makes it
// wait, or, without wait, fail.
func (gt *stdinGate) write(p []byte, wait bool) (int, error) {
	gt.mu.Lock()
	for gt.held && !gt.closed && len(gt.queue) > 0 && len(gt.queue)+len(p) > gateHoldBytes {
		if !wait {
			gt.mu.Unlock()
			return 0, errHeldFull
		}
		gt.cond.Wait()
	}
	switch {
	case gt.closed:
		gt.mu.Unlock()
		return 0, errSessionOver
	case gt.held:
		gt.queue = append(gt.queue, p...)
		gt.mu.Unlock()
		return len(p), nil
	}
	gt.mu.Unlock()
	gt.wmu.Lock()
	defer gt.wmu.Unlock()
	return gt.dst.Write(p)
}

// CloseWrite ends the upstream's stdin (once the held input went).
func (gt *stdinGate) CloseWrite() error {
	gt.mu.Lock()
	if gt.held {
		gt.eof = true
		gt.mu.Unlock()
		return nil
	}
	gt.mu.Unlock()
	gt.wmu.Lock()
	defer gt.wmu.Unlock()
	return gt.dst.CloseWrite()
}

// release writes the held input and lets the rest through.
func (gt *stdinGate) release() {
	gt.wmu.Lock()
	defer gt.wmu.Unlock()
	gt.mu.Lock()
	if !gt.held || gt.closed {
		gt.mu.Unlock()
		return
	}
	gt.held = false
	q, eof := gt.queue, gt.eof
	gt.queue = nil
	gt.cond.Broadcast()
	gt.mu.Unlock()
	if len(q) > 0 {
		if _, err := gt.dst.Write(q); err != nil {
			return
		}
	}
	if eof {
		_ = gt.dst.CloseWrite()
	}
}

// close refuses further input and wakes held writers.
func (gt *stdinGate) close() {
	gt.mu.Lock()
	gt.closed = true
	gt.queue = nil
	gt.cond.Broadcast()
	gt.mu.Unlock()
}
