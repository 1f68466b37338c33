package localrt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// run is one life of a container's main process: the process, its output
// fan-out to attachers and its stdin.
type run struct {
	c   *container
	id  string
	p   *process
	log *ring // the tail of the output

	tty    *os.File   // pty master (tty containers)
	outs   []*os.File // output sources: the master, or the stdout and stderr pipes
	stdin  *os.File   // where attachers' input goes: the stdin pipe or the master; nil without stdin
	isPipe bool       // stdin is a pipe, closed for stdinOnce

	mu        sync.Mutex
	attachers map[*attacher]bool
	finished  bool // output delivered: no new attachers

	outDone   chan struct{} // every output byte delivered, no more writes to attachers
	pumpsLeft atomic.Int32
	pumpsDone chan struct{}
	stdinCh   chan stdinChunk
	closeReq  chan struct{} // closed to close the stdin pipe (stdinOnce)
	closeOnce sync.Once
	wg        sync.WaitGroup // pumps and the stdin writer
}

// stdinChunk is one attacher's read, written to the process's stdin by
// writeStdin, which answers on done (buffered).
type stdinChunk struct {
	p    []byte
	done chan error
}

// startRun starts the main process and its helpers.
func (c *container) startRun(id string) (*run, error) {
	argv := c.argv()
	env, dir := c.processEnv(c.spec.TTY), c.workDir()
	path, err := lookPath(argv[0], env, dir)
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: dir}
	r := &run{
		c: c, id: id,
		log:       newRing(logTail),
		attachers: make(map[*attacher]bool),
		outDone:   make(chan struct{}),
		pumpsDone: make(chan struct{}),
		stdinCh:   make(chan stdinChunk),
		closeReq:  make(chan struct{}),
	}
	var st spawned
	if c.spec.TTY {
		st, err = r.startTTY(cmd)
	} else {
		st, err = r.startPipes(cmd)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	r.p = newProcess(cmd, &st, true) // a container's processes die with its main process
	r.pumpsLeft.Store(int32(len(r.outs)))
	for i, f := range r.outs {
		r.wg.Add(1)
		go r.pumpOutput(f, i == 1)
	}
	if r.stdin != nil {
		r.wg.Add(1)
		go r.writeStdin()
	}
	return r, nil
}

func (r *run) startTTY(cmd *exec.Cmd) (spawned, error) {
	master, st, err := startPTY(cmd, defaultSize, r.c.pod.rt.spawn.start)
	if err != nil {
		return spawned{}, err
	}
	r.tty, r.outs = master, []*os.File{master}
	if r.c.spec.Stdin {
		r.stdin = master
	}
	return st, nil
}

func (r *run) startPipes(cmd *exec.Cmd) (spawned, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var child, ours []*os.File
	defer func() { closeAll(child) }() // the process's ends
	fail := func(err error) (spawned, error) {
		closeAll(ours)
		return spawned{}, err
	}
	if r.c.spec.Stdin {
		pr, pw, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		cmd.Stdin, r.stdin, r.isPipe = pr, pw, true
		child, ours = append(child, pr), append(ours, pw)
	}
	for i := 0; i < 2; i++ {
		pr, pw, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		if i == 0 {
			cmd.Stdout = pw
		} else {
			cmd.Stderr = pw
		}
		child, ours = append(child, pw), append(ours, pr)
		r.outs = append(r.outs, pr)
	}
	st, err := r.c.pod.rt.spawn.start(cmd)
	if err != nil {
		return fail(err)
	}
	return st, nil
}

// supervise waits for the process to exit (stopping it when ctx ends),
// kills what is left of the container, delivers the remaining output and
// releases attachers. It returns how the run ended.
func (r *run) supervise(ctx context.Context) *termination {
	rt := r.c.pod.rt
	select {
	case <-r.p.done:
	case <-ctx.Done():
		r.p.stop(syscall.SIGTERM, r.c.pod.killGrace(), r.c.pod.hurry)
	}
	// A container's processes die with its main process: the reap did
	// that (killOnExit), except for a helped process, reaped by the
	// helper, whose group is signalled here as it always was.
	r.p.signalGroup(syscall.SIGKILL)
	r.c.killGroups()
	t := r.termination()
	waitDrained(r.pumpsDone, r.outs, rt.drainGrace)
	// The status changes once the output is in the log tail, as a
	// terminated container's logs are complete.
	r.c.exited(r, t)
	for _, f := range r.outs {
		f.Close()
	}
	if r.isPipe {
		r.stdin.Close() // ends a Write blocked on a full pipe
	}
	r.mu.Lock()
	r.finished = true
	r.mu.Unlock()
	close(r.outDone)
	r.wg.Wait()
	return t
}

func (r *run) termination() *termination {
	t := &termination{id: r.id, startedAt: r.p.start, finishedAt: time.Now(), reason: "Completed"}
	if ee := r.p.exit(); ee != nil {
		t.exitCode, t.signal, t.reason = int32(ee.Code), int32(ee.Signal), "Error"
	}
	return t
}

// pumpOutput reads one output source and offers each chunk to every
// current attacher's queue (stderr chunks to their stderr). A full queue
// holds this output only while its attacher makes progress, or for the
// stall timeout (see attacher.offer). The log tail keeps a copy; with no
// attacher that is all that remains of the chunk.
func (r *run) pumpOutput(src *os.File, stderr bool) {
	defer r.wg.Done()
	defer func() {
		if r.pumpsLeft.Add(-1) == 0 {
			r.log.end() // followers of the log stop here
			close(r.pumpsDone)
		}
	}()
	buf := make([]byte, 32<<10)
	var targets []*attacher
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.log.write(buf[:n])
			targets = r.targets(targets[:0])
			for _, a := range targets {
				a.offer(buf[:n], stderr)
				a.busy.Done()
			}
			clear(targets)
		}
		if err != nil {
			return
		}
	}
}

// targets appends the current attachers, each marked busy until the
// caller has offered the chunk to it.
func (r *run) targets(dst []*attacher) []*attacher {
	r.mu.Lock()
	defer r.mu.Unlock()
	for a := range r.attachers {
		a.busy.Add(1)
		dst = append(dst, a)
	}
	return dst
}

// writeStdin writes attachers' input to the process, one chunk at a time,
// until the run ends; it closes the stdin pipe when asked (stdinOnce).
func (r *run) writeStdin() {
	defer r.wg.Done()
	closeReq := r.closeReq
	for {
		select {
		case ch := <-r.stdinCh:
			_, err := r.stdin.Write(ch.p)
			ch.done <- err
		case <-closeReq:
			r.stdin.Close()
			closeReq = nil
		case <-r.outDone:
			return
		}
	}
}

// closeStdin asks for the stdin pipe to be closed (stdinOnce), after any
// chunk being written.
func (r *run) closeStdin() {
	if r.isPipe {
		r.closeOnce.Do(func() { close(r.closeReq) })
	}
}

// waitDrained waits until done is closed, that is until the copiers of
// files have reached EOF. Once a process has exited that is immediate
// unless a background child holds a file open; so every grace it checks
// the files and, when all are empty (everything the process wrote has been
// read), sets a read deadline that ends the copiers.
func waitDrained(done <-chan struct{}, files []*os.File, grace time.Duration) {
	t := time.NewTicker(grace)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		idle := true
		for _, f := range files {
			idle = idle && pending(f) == 0
		}
		if idle {
			for _, f := range files {
				f.SetReadDeadline(time.Unix(1, 0))
			}
			<-done
			return
		}
	}
}
