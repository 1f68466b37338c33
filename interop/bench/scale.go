package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// HeldCost is what holding many idle sessions costs one server, and
// whether it all comes back when they end.
type HeldCost struct {
	Sessions int
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
	// session ended (a leak when above zero after the settling wait).
	GoroutinesLeft int
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
	c := HeldCost{Sessions: count}
	if err := warmIdle(ctx, n, w); err != nil {
		return c, err
	}
	g0, err := n.Goroutines(ctx)
	if err != nil {
		return c, err
	}
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
		if c.GoroutinesLeft <= 0 || time.Now().After(deadline) {
			return c, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
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
