package localrt

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/porthole/porthole/kube"
)

// backoffPolicy is the delay before restarting a container: initial,
// doubling up to max, back to initial after a run of at least reset.
type backoffPolicy struct {
	initial, max, reset time.Duration
}

var defaultBackoff = backoffPolicy{initial: time.Second, max: 30 * time.Second, reset: 60 * time.Second}

// container is one container of a pod: its spec, its current run and the
// state its status reports.
type container struct {
	pod  *pod
	spec *kube.Container
	// ephemeral is the whole spec of an ephemeral container (spec is its
	// Container); nil for the pod's own containers.
	ephemeral *kube.EphemeralContainer

	mu sync.Mutex
	// env is the environment made for the current or last start (see
	// resolveEnv): what its processes and exec'd ones get.
	env      []kube.EnvVar
	cur      *run // the current run, nil between runs
	waiting  string
	waitMsg  string
	last     *termination
	prev     *termination // the termination before last
	restarts int32
	ready    bool // the readiness probe's verdict (containers with one)
	// groups are the process groups of exec sessions that may still live,
	// each true once its leader exited while other members lived on.
	groups  map[int]bool
	log     *ring // output of the latest run
	prevLog *ring // output of the run before
}

func newContainer(p *pod, spec *kube.Container) *container {
	return &container{pod: p, spec: spec, groups: make(map[int]bool)}
}

// argv is the main process's command line: command+args (with $(VAR)
// references to the container's env expanded), else args alone (an image
// without entrypoint), else a shell for stdin or a long sleep.
func (c *container) argv() []string {
	lookup := lookupIn(c.vars())
	var argv []string
	for _, a := range append(append([]string(nil), c.spec.Command...), c.spec.Args...) {
		argv = append(argv, expand(a, lookup))
	}
	switch {
	case len(argv) > 0:
		return argv
	case c.spec.Stdin:
		return []string{"sh"}
	default:
		return []string{"sleep", "infinity"}
	}
}

// supervise runs the main process until ctx ends, restarting it per the
// pod's restart policy with a backoff. It runs on its own goroutine,
// joined by Runtime.Close.
func (c *container) supervise(ctx context.Context) {
	defer c.pod.rt.wg.Done()
	bo := c.pod.rt.backoff
	delay := bo.initial
	for restarted := false; ; restarted = true {
		if !c.prepareEnv(ctx) {
			return
		}
		t := c.runOnce(ctx, restarted)
		// Ephemeral containers are never restarted, as the kubelet has it.
		if ctx.Err() != nil || c.ephemeral != nil || !shouldRestart(c.pod.spec.Spec.RestartPolicy, t.exitCode) {
			return
		}
		if t.finishedAt.Sub(t.startedAt) >= bo.reset {
			delay = bo.initial
		}
		c.setWaiting("CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
			delay, c.spec.Name, c.pod.spec.Name, c.pod.spec.Namespace, c.pod.spec.UID))
		if !sleep(ctx, delay) {
			return
		}
		delay = min(2*delay, bo.max)
	}
}

func shouldRestart(policy string, code int32) bool {
	switch policy {
	case restartAlways:
		return true
	case restartOnFailure:
		return code != 0
	}
	return false
}

// sleep waits d unless ctx ends first; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// runOnce starts the main process and supervises it to its end.
func (c *container) runOnce(ctx context.Context, restarted bool) *termination {
	rt := c.pod.rt
	id := newID()
	started := time.Now()
	r, err := c.startRun(id)
	if err != nil {
		rt.log.Warn("container start failed", "pod", c.pod.spec.Name, "namespace", c.pod.spec.Namespace,
			"container", c.spec.Name, "err", err)
		t := &termination{id: id, exitCode: 128, reason: "StartError", message: err.Error(),
			startedAt: started, finishedAt: time.Now()}
		c.mu.Lock()
		c.waiting, c.prev, c.last = "", c.last, t
		if restarted {
			c.restarts++
		}
		c.mu.Unlock()
		rt.notify()
		return t
	}
	rt.log.Info("container started", "pod", c.pod.spec.Name, "namespace", c.pod.spec.Namespace,
		"container", c.spec.Name, "pid", r.p.pgid)
	c.mu.Lock()
	c.cur, c.waiting = r, ""
	c.ready = false // a new run is ready once its probe says so
	c.prevLog, c.log = c.log, r.log
	if restarted {
		c.restarts++
	}
	c.mu.Unlock()
	rt.notify()
	return r.supervise(ctx)
}

// exited records the end of run r, once its output has been read.
func (c *container) exited(r *run, t *termination) {
	c.mu.Lock()
	if c.cur == r {
		c.cur = nil
	}
	c.prev, c.last = c.last, t
	c.mu.Unlock()
	c.pod.rt.notify()
	c.pod.rt.log.Info("container exited", "pod", c.pod.spec.Name, "namespace", c.pod.spec.Namespace,
		"container", c.spec.Name, "exitCode", t.exitCode)
}

func (c *container) setWaiting(reason, msg string) {
	c.mu.Lock()
	c.waiting, c.waitMsg = reason, msg
	c.mu.Unlock()
	c.pod.rt.notify()
}

// currentRun is the running main process's run, or nil.
func (c *container) currentRun() *run {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func (c *container) running() bool { return c.currentRun() != nil }

func (c *container) snapshot() snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := snapshot{waiting: c.waiting, waitingMsg: c.waitMsg, last: c.last, prev: c.prev, restarts: c.restarts}
	if c.cur != nil {
		s.running, s.runID, s.startedAt = true, c.cur.id, c.cur.p.start
		s.ready = c.spec.ReadinessProbe == nil || c.ready
	}
	return s
}

// trackGroup records an exec session's process group, so that it dies with
// the container. It forgets the groups whose leader had exited and whose
// other members have all gone since (a background process that ended on
// its own), so that the map holds no more than the live groups, and
// killGroups does not signal a number the kernel may have handed to an
// unrelated group. Running sessions' groups are not looked at: with
// thousands of them, that would be a syscall each per new session.
func (c *container) trackGroup(pgid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for g, leaderExited := range c.groups {
		if leaderExited && (!groupAlive(g) || idReused(g)) {
			delete(c.groups, g)
		}
	}
	c.groups[pgid] = false
}

// untrackGroup is called when an exec session's leader has exited. Its
// group stays tracked while background members live, unless the container
// stopped meanwhile: then they are killed now.
func (c *container) untrackGroup(pgid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil && !idReused(pgid) {
		// Its leader is reaped: the group's id names this group only
		// while no process has taken it (see killGroups).
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	if c.cur == nil || !groupAlive(pgid) {
		delete(c.groups, pgid)
		return
	}
	c.groups[pgid] = true
}

// killGroups kills every exec session's process group left in the container.
// A group whose leader had exited is killed only while its id is not
// another process's: it may have ended since trackGroup last looked, hours
// ago, and its id been handed to an unrelated group.
func (c *container) killGroups() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pgid, leaderExited := range c.groups {
		if !leaderExited || !idReused(pgid) {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		delete(c.groups, pgid)
	}
}
