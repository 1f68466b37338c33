package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// HeldCost is what holding many idle sessions costs one server, and
// whether it all comes back when they end.
type HeldCost struct {
	// Sessions is how many were held: Wanted, or fewer when the server's
	// open-file limit cannot hold that many (FDLimit, FDsPerSession).
	Sessions, Wanted int
	// FDsPerSession is the server's descriptor growth per session and
	// FDLimit its open-file limit (0: unknown).
	FDsPerSession float64
	FDLimit       int
	// RSS is the server's VmRSS while holding them, in bytes, and
	// RSSPerSession its growth over the baseline per session.
	RSS           uint64
	RSSPerSession float64
	// GoroutinesPerSession is the goroutine growth per session.
	GoroutinesPerSession float64
	// StartIdle and StartHeld are median start latencies of `true` on the
	// same wire before and while the sessions are held.
	StartIdle, StartHeld time.Duration
	// GoroutinesLeft is the goroutine count over the baseline once every
	// session ended (a leak when above zero after the settling wait), and
	// LeftStacks, then, the stacks that grew, when the server serves
	// goroutine profiles (porthole's --profiling).
	GoroutinesLeft int
	LeftStacks     string `json:"-"`
	// HeapLeftPerSession is the live Go heap's growth over the baseline
	// per session once they ended, in bytes (both read right after a
	// forced collection): what the server still keeps of ended sessions.
	// HeapLeftErr says why it was not read.
	HeapLeftPerSession float64
	HeapLeftErr        error `json:"-"`
	// Stopped says why fewer than Wanted were held ("" when all were).
	Stopped string
}

// heldLatencyRuns is how many `true` execs each start latency takes.
const heldLatencyRuns = 20

// HoldSessions opens count idle `cat` sessions on n over w (each confirmed
// by an echo, opened by a few workers at a time), measures the server with
// them held and a new session's start, then ends them and waits up to 30 s
// for the goroutines to return to the baseline.
func HoldSessions(ctx context.Context, n *Node, w Wire, count int) (HeldCost, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := HeldCost{Sessions: count, Wanted: count}
	if err := warmIdle(ctx, n, w); err != nil {
		return c, err
	}
	if err := fitFileLimit(ctx, n, w, &c); err != nil {
		return c, err
	}
	count = c.Sessions
	// The probe's sessions are closed but may still be ending: the
	// baseline is the count once it stops falling.
	g0, err := settledGoroutines(ctx, n)
	if err != nil {
		return c, err
	}
	stacks0 := n.GoroutineStacks(ctx)
	live0, liveErr := n.LiveHeap(ctx)
	rss0, err := n.RSS()
	if err != nil {
		return c, err
	}
	if c.StartIdle, err = StartLatency(ctx, n, w, heldLatencyRuns); err != nil {
		return c, err
	}
	sessions, err := openMany(ctx, n, w, count)
	if err != nil {
		return c, errors.Join(err, closeIdle(sessions))
	}
	if c.RSS, err = n.RSS(); err != nil {
		return c, errors.Join(err, closeIdle(sessions))
	}
	g1, err := n.Goroutines(ctx)
	if err != nil {
		return c, errors.Join(err, closeIdle(sessions))
	}
	c.RSSPerSession = (float64(c.RSS) - float64(rss0)) / float64(count)
	c.GoroutinesPerSession = float64(g1-g0) / float64(count)
	if c.StartHeld, err = StartLatency(ctx, n, w, heldLatencyRuns); err != nil {
		return c, errors.Join(err, closeIdle(sessions))
	}
	if err := closeIdle(sessions); err != nil {
		return c, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, err := n.Goroutines(ctx)
		if err != nil {
			return c, err
		}
		c.GoroutinesLeft = g - g0
		if c.GoroutinesLeft <= 0 {
			c.heapLeft(ctx, n, live0, liveErr)
			return c, nil
		}
		if time.Now().After(deadline) {
			c.LeftStacks = grownStacks(stacks0, n.GoroutineStacks(ctx))
			c.heapLeft(ctx, n, live0, liveErr)
			return c, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// heapLeft reads the live heap once the sessions ended, against live0
// read before they began (or the error that kept it from being read).
func (c *HeldCost) heapLeft(ctx context.Context, n *Node, live0 uint64, err error) {
	var live uint64
	if err == nil {
		live, err = n.LiveHeap(ctx)
	}
	if err != nil {
		c.HeapLeftErr = err
		return
	}
	c.HeapLeftPerSession = (float64(live) - float64(live0)) / float64(c.Sessions)
}

// settledGoroutines is n's goroutine count once it has stopped falling:
// the same in three reads 100 ms apart, or the last read after 10 s.
func settledGoroutines(ctx context.Context, n *Node) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	last, same := -1, 0
	for {
		g, err := n.Goroutines(ctx)
		if err != nil {
			return 0, err
		}
		if g == last {
			same++
		} else {
			last, same = g, 1
		}
		if same == 3 || time.Now().After(deadline) {
			return g, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// grownStacks lists the stacks of goroutine profile after (debug=1 text)
// held by more goroutines than in before, each with the growth: what a
// leak is made of. Empty when either profile is missing.
func grownStacks(before, after []byte) string {
	if before == nil || after == nil {
		return ""
	}
	b, a := profileStacks(before), profileStacks(after)
	keys := make([]string, 0, len(a))
	for k := range a {
		if a[k] > b[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&out, "+%d:\n%s\n", a[k]-b[k], k)
	}
	return out.String()
}

// profileStacks reads a debug=1 goroutine profile: blocks of "N @ pcs"
// followed by "#\tpc\tfunction\tfile:line" lines, keyed by their function
// lines (addresses dropped, so two profiles of one binary compare).
func profileStacks(p []byte) map[string]int {
	m := map[string]int{}
	for _, block := range strings.Split(string(p), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if strings.HasPrefix(lines[0], "goroutine profile:") { // the first block's
			lines = lines[1:]
		}
		if len(lines) == 0 {
			continue
		}
		head := strings.Fields(lines[0])
		if len(head) < 2 || head[1] != "@" {
			continue
		}
		count, err := strconv.Atoi(head[0])
		if err != nil {
			continue
		}
		var key strings.Builder
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) >= 3 && f[0] == "#" {
				fmt.Fprintf(&key, "\t%s %s\n", f[2], f[len(f)-1])
			}
		}
		if key.Len() == 0 { // a goroutine not yet running anything
			key.WriteString("\t(no frames)\n")
		}
		m[key.String()] += count
	}
	return m
}

// fdProbeSessions is how many sessions fitFileLimit opens to learn the
// descriptors one costs, and fdReserve the descriptors it leaves the
// server for everything else (listeners, the latency runs, the runtime).
const (
	fdProbeSessions = 16
	fdReserve       = 512
)

// fitFileLimit measures the server's descriptors per session and lowers
// c.Sessions to what its open-file limit holds (a container may cap the
// hard limit below what RaiseFileLimit asks for). Without /proc it
// changes nothing.
func fitFileLimit(ctx context.Context, n *Node, w Wire, c *HeldCost) error {
	limit, err := openFileLimit(n.PID)
	if err != nil {
		return nil
	}
	fd0, err := countFDs(n.PID)
	if err != nil {
		return nil
	}
	probe, err := openMany(ctx, n, w, fdProbeSessions)
	if err != nil {
		return errors.Join(err, closeIdle(probe))
	}
	fd1, err := countFDs(n.PID)
	if cerr := closeIdle(probe); cerr != nil {
		return cerr
	}
	if err != nil {
		return nil
	}
	c.FDLimit = limit
	c.FDsPerSession = float64(fd1-fd0) / fdProbeSessions
	if c.FDsPerSession > 0 {
		fit := int(float64(limit-fd0-fdReserve) / c.FDsPerSession)
		c.Sessions = max(0, min(c.Sessions, fit))
	}
	if c.Sessions < c.Wanted {
		c.Stopped = fmt.Sprintf("held %d of %d: the server's open-file limit is %d (the bench raises the soft limit to the hard one; "+
			"a higher hard limit needs CAP_SYS_RESOURCE) and a session costs %.2f descriptors, so %d would need %.0f; "+
			"the projection row carries the per-session RSS to %d",
			c.Sessions, c.Wanted, limit, c.FDsPerSession, c.Wanted, float64(fd0+fdReserve)+c.FDsPerSession*float64(c.Wanted), c.Wanted)
	}
	if c.Sessions == 0 {
		return fmt.Errorf("open-file limit %d holds no session at %.1f descriptors each", limit, c.FDsPerSession)
	}
	return nil
}

// countFDs is how many descriptors process pid has open.
func countFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("count descriptors: %w", err)
	}
	return len(ents), nil
}

// openFileLimit is process pid's soft open-file limit.
func openFileLimit(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, fmt.Errorf("read limits: %w", err)
	}
	return parseOpenFileLimit(b)
}

// parseOpenFileLimit reads the soft "Max open files" limit from the text
// of /proc/PID/limits.
func parseOpenFileLimit(limits []byte) (int, error) {
	for _, line := range bytes.Split(limits, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("Max open files"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		if string(f[0]) == "unlimited" {
			return math.MaxInt32, nil
		}
		v, err := strconv.Atoi(string(f[0]))
		if err != nil || v < 0 {
			return 0, fmt.Errorf("open-file limit %q: not a count", f[0])
		}
		return v, nil
	}
	return 0, errors.New("no open-file limit in limits")
}

// openMany opens count idle sessions with a few workers; on error it
// returns those it opened.
func openMany(ctx context.Context, n *Node, w Wire, count int) ([]*idleSession, error) {
	const workers = 8
	var (
		mu       sync.Mutex
		sessions = make([]*idleSession, 0, count)
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				if firstErr != nil || next == count {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				s, err := openIdle(ctx, n, w)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("open held session %d of %d: %w", len(sessions), count, err)
					}
				} else {
					sessions = append(sessions, s)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return sessions, firstErr
}

// RaiseFileLimit lifts this process's open-file limit (inherited by the
// servers it starts) to at least want, raising the hard limit too where
// allowed, and returns the limit in force.
func RaiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	raised := syscall.Rlimit{Cur: want, Max: max(lim.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
		return want, nil
	}
	// Without the privilege to raise the hard limit, take all of it.
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("setrlimit: %w", err)
	}
	return lim.Cur, nil
}
