package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/remotecommand"
)

// stream runs one exec of e at n over w.
func stream(ctx context.Context, n *Node, w Wire, e *Exec, opts remotecommand.StreamOptions) error {
	u, err := n.ExecURL(ctx, w, e)
	if err != nil {
		return err
	}
	ex, err := executor(w, n, u)
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, opts)
}

// counter is a discarding sink that counts bytes.
type counter struct{ n atomic.Int64 }

func (c *counter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// Speed is one bulk transfer's result.
type Speed struct {
	// MBps is bytes / 10^6 / wall seconds.
	MBps float64
	// CPU is the server process's CPU time (user + system) spent meanwhile.
	CPU time.Duration
	// ClientCPU is the bench process's own CPU time meanwhile (the client's,
	// where it runs in process), or the client process's.
	ClientCPU time.Duration
}

// Throughput execs `head -c size /dev/zero` and returns stdout MB/s (10^6
// bytes), failing unless exactly size bytes arrived. The clock runs from
// the request (after the URL is known) to the exit status.
func Throughput(ctx context.Context, n *Node, w Wire, size int64) (Speed, error) {
	e := &Exec{Cmd: []string{"head", "-c", strconv.FormatInt(size, 10), "/dev/zero"}, Stdout: true, Stderr: true}
	u, err := n.ExecURL(ctx, w, e)
	if err != nil {
		return Speed{}, err
	}
	ex, err := executor(w, n, u)
	if err != nil {
		return Speed{}, err
	}
	var out counter
	var errOut bytes.Buffer
	return timed(n, size, &out, func() error {
		if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}); err != nil {
			return fmt.Errorf("throughput exec: %w (stderr %q)", err, errOut.Bytes())
		}
		return nil
	})
}

// StartLatency execs `true` runs times (after 3 unmeasured warm-ups) and
// returns the median time from request to exit status. One-time URLs are
// minted before the clock starts.
func StartLatency(ctx context.Context, n *Node, w Wire, runs int) (time.Duration, error) {
	e := &Exec{Cmd: []string{"true"}, Stdout: true, Stderr: true}
	var times []time.Duration
	for i := -3; i < runs; i++ {
		u, err := n.ExecURL(ctx, w, e)
		if err != nil {
			return 0, err
		}
		ex, err := executor(w, n, u)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
		elapsed := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("latency exec %d: %w", i, err)
		}
		if i >= 0 {
			times = append(times, elapsed)
		}
	}
	return median(times), nil
}

// LocalSpawnLatency runs `true` with os/exec runs times (after 3
// unmeasured warm-ups) and returns the median time from building the
// command (PATH lookup included, as a node does it) to Wait's return: the
// floor under any session start of `true`, measured on the same machine
// in the same run.
func LocalSpawnLatency(ctx context.Context, runs int) (time.Duration, error) {
	var times []time.Duration
	for i := -3; i < runs; i++ {
		start := time.Now()
		err := exec.CommandContext(ctx, "true").Run()
		elapsed := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("local spawn %d: %w", i, err)
		}
		if i >= 0 {
			times = append(times, elapsed)
		}
	}
	return median(times), nil
}

func median(times []time.Duration) time.Duration {
	if len(times) == 0 {
		return 0
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// IdleCost is the server's memory cost of idle exec sessions.
type IdleCost struct {
	// BaselineRSS is the server's VmRSS before the sessions (after one
	// warm-up session), in bytes.
	BaselineRSS uint64
	// RSSPerSession is the VmRSS growth divided by the session count.
	RSSPerSession float64
	// HeapPerSession is the Go heap growth per session; HeapErr says why
	// it is missing.
	HeapPerSession float64
	HeapErr        error
}

// IdleSessions opens count sessions of `cat` with stdin held open, each
// confirmed live by an echoed byte, measures the server's memory, then ends
// them all by closing their stdin and checks they ended cleanly.
func IdleSessions(ctx context.Context, n *Node, w Wire, count int) (IdleCost, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := warmIdle(ctx, n, w); err != nil {
		return IdleCost{}, err
	}
	rss0, err := n.RSS()
	if err != nil {
		return IdleCost{}, err
	}
	heap0, heapErr := n.Heap(ctx)
	sessions := make([]*idleSession, 0, count)
	for range count {
		s, err := openIdle(ctx, n, w)
		if err != nil {
			err = fmt.Errorf("open idle session %d: %w", len(sessions), err)
			return IdleCost{}, errors.Join(err, closeIdle(sessions))
		}
		sessions = append(sessions, s)
	}
	rss1, err := n.RSS()
	if err != nil {
		return IdleCost{}, err
	}
	cost := IdleCost{BaselineRSS: rss0, RSSPerSession: (float64(rss1) - float64(rss0)) / float64(count), HeapErr: heapErr}
	if heapErr == nil {
		heap1, err := n.Heap(ctx)
		cost.HeapPerSession, cost.HeapErr = (float64(heap1)-float64(heap0))/float64(count), err
	}
	return cost, closeIdle(sessions)
}

// warmIdle opens and closes one session so that one-off allocations (first
// connection, first process) are not charged to the measured sessions.
func warmIdle(ctx context.Context, n *Node, w Wire) error {
	s, err := openIdle(ctx, n, w)
	if err != nil {
		return fmt.Errorf("warm-up session: %w", err)
	}
	return closeIdle([]*idleSession{s})
}

// closeIdle ends the sessions, by ending their stdin where the wire can
// say so (cat then exits and the session ends with success) or else by
// dropping the connection (then the cancellation is the expected error).
func closeIdle(sessions []*idleSession) error {
	var errs []error
	for _, s := range sessions {
		s.release()
	}
	for i, s := range sessions {
		err := <-s.done
		s.cancel()
		if err != nil && !(s.drop && errors.Is(err, context.Canceled)) {
			errs = append(errs, fmt.Errorf("idle session %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// idleSession is one open `cat` exec whose stdin stays open until release.
type idleSession struct {
	stdin  *heldStdin
	done   chan error
	cancel context.CancelFunc
	// drop: the wire cannot half-close stdin; release cancels the session.
	drop bool
}

func (s *idleSession) release() {
	s.stdin.close()
	if s.drop {
		s.cancel()
	}
}

// heldStdin yields one byte, then blocks until closed, then reports EOF
// (which client-go turns into the stdin half-close).
type heldStdin struct {
	sent    atomic.Bool
	closed  chan struct{}
	closing atomic.Bool
}

func (h *heldStdin) Read(p []byte) (int, error) {
	if len(p) > 0 && !h.sent.Swap(true) {
		p[0] = 'x'
		return 1, nil
	}
	<-h.closed
	return 0, io.EOF
}

func (h *heldStdin) close() {
	if !h.closing.Swap(true) {
		close(h.closed)
	}
}

// echoed signals the first byte written.
type echoed struct {
	once atomic.Bool
	ch   chan struct{}
}

func (e *echoed) Write(p []byte) (int, error) {
	if len(p) > 0 && !e.once.Swap(true) {
		close(e.ch)
	}
	return len(p), nil
}

func openIdle(ctx context.Context, n *Node, w Wire) (*idleSession, error) {
	e := &Exec{Cmd: []string{"cat"}, Stdin: true, Stdout: true}
	u, err := n.ExecURL(ctx, w, e)
	if err != nil {
		return nil, err
	}
	ex, err := executor(w, n, u)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &idleSession{stdin: &heldStdin{closed: make(chan struct{})}, done: make(chan error, 1), cancel: cancel, drop: !w.halfCloses()}
	out := &echoed{ch: make(chan struct{})}
	go func() {
		s.done <- ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: s.stdin, Stdout: out})
	}()
	select {
	case <-out.ch:
		return s, nil
	case err := <-s.done:
		s.release()
		cancel()
		return nil, fmt.Errorf("session ended before echo: %v", err)
	case <-ctx.Done():
		s.release()
		<-s.done
		return nil, ctx.Err()
	}
}
