package localrt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/resize"
)

// Exec runs argv in container c's context (its working directory and
// environment) as a new process leading its own process group, and returns
// once the process has exited and its output has been copied (see the
// package doc for background children holding the output open).
//
// Without a tty, an *os.File streams.Stdin is handed to the process as it
// is; another reader is copied into a pipe, closed at EOF; no stdin is
// /dev/null. Each requested output gets its own pipe. With a tty the
// process runs on a new pty sized streams.Size (80x24 when zero) before it
// starts, and every size from streams.Resize is applied.
//
// A non-zero exit is an *ExitError. A command that cannot be found or run
// is a plain error wrapping exec.ErrNotFound or the start error; a
// container that is not running is an error wrapping node.ErrNotRunning.
// When ctx is cancelled (or the Runtime closes) the group gets SIGHUP (tty)
// or SIGTERM, SIGKILL after KillGrace, and Exec returns ctx's error once
// the process is gone.
func (r *Runtime) Exec(ctx context.Context, c node.Container, argv []string, s node.Streams) error {
	leave, err := r.enter()
	if err != nil {
		return err
	}
	defer leave()
	ct, err := r.lookupContainer(c)
	if err != nil {
		return err
	}
	if len(argv) == 0 {
		return errors.New("exec: empty command")
	}
	if !ct.running() {
		return fmt.Errorf("exec in container %s: %w", ct.spec.Name, node.ErrNotRunning)
	}
	env, dir := ct.processEnv(s.TTY), ct.workDir()
	path, err := lookPath(argv[0], env, dir)
	if err != nil {
		return err
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: dir}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.ctx, cancel)()
	if s.TTY {
		return r.execTTY(ctx, ct, cmd, s)
	}
	return r.execPipes(ctx, ct, cmd, s)
}

// execPipes runs cmd with pipes for its standard streams.
func (r *Runtime) execPipes(ctx context.Context, ct *container, cmd *exec.Cmd, s node.Streams) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var child []*os.File // the process's ends, closed here once it started
	defer func() {
		for _, f := range child {
			f.Close()
		}
	}()
	var out outputs
	var stdinW *os.File
	switch in := s.Stdin.(type) {
	case nil:
	case *os.File:
		// The process gets its own copy: ours closes with the process's
		// ends below (node.Streams), one descriptor less per session.
		cmd.Stdin = in
		child = append(child, in)
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("stdin pipe: %w", err)
		}
		cmd.Stdin, stdinW = pr, pw
		child = append(child, pr)
	}
	for _, o := range []struct {
		name string
		w    io.Writer
		set  func(*os.File)
	}{
		{"stdout", s.Stdout, func(f *os.File) { cmd.Stdout = f }},
		{"stderr", s.Stderr, func(f *os.File) { cmd.Stderr = f }},
	} {
		if o.w == nil {
			continue
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			closeAll(out.srcs, stdinW)
			return fmt.Errorf("%s pipe: %w", o.name, err)
		}
		setPipeSize(pw, r.pipeSize)
		o.set(pw)
		child = append(child, pw)
		out.add(o.name, o.w, pr)
	}
	st, err := r.spawn.start(cmd)
	if err != nil {
		closeAll(out.srcs, stdinW)
		return fmt.Errorf("start %s: %w", cmd.Args[0], err)
	}
	for _, f := range child {
		f.Close()
	}
	child = nil
	started(s)
	var pump *stdinPump
	if stdinW != nil {
		pump = r.startStdin(s.Stdin, stdinW, true)
	}
	return r.runExec(ctx, ct, cmd, &st, &out, pump, nil, syscall.SIGTERM)
}

// execTTY runs cmd on a new pty.
func (r *Runtime) execTTY(ctx context.Context, ct *container, cmd *exec.Cmd, s node.Streams) error {
	size := s.Size
	if size == (resize.Size{}) {
		size = defaultSize
	}
	master, st, err := startPTY(cmd, size, r.spawn.start)
	if err != nil {
		return fmt.Errorf("start %s: %w", cmd.Args[0], err)
	}
	started(s)
	var out outputs
	out.add("stdout", s.Stdout, master)
	var pump *stdinPump
	if s.Stdin != nil {
		pump = r.startStdin(s.Stdin, master, false)
	}
	return r.runExec(ctx, ct, cmd, &st, &out, pump, newResizer(master, s.Resize), syscall.SIGHUP)
}

// runExec supervises a started exec'd process until it has exited and its
// output is copied, then ends the helpers. Where it can (Linux), the
// calling goroutine does it all with one readiness poller (runPolled);
// elsewhere a goroutine per output copies and one waits for the exit.
func (r *Runtime) runExec(ctx context.Context, ct *container, cmd *exec.Cmd, st *spawned, out *outputs, pump *stdinPump, rs *resizer, sig syscall.Signal) error {
	if !r.noExecPoll {
		if ep, err := newExecPoller(st, out.srcs); err == nil {
			return r.runPolled(ctx, ct, ep, unwatchedProcess(cmd, st), out, pump, rs, sig)
		}
	}
	p := newProcess(cmd, st, false)
	ct.trackGroup(p.pgid)
	out.start()
	rs.start()
	cancelled := false
	select {
	case <-p.done:
	case <-ctx.Done():
		cancelled = true
		p.stop(sig, r.opts.KillGrace, nil)
	}
	copyErr := out.finish(r.drainGrace)
	rs.stop()
	pump.stop()
	ct.untrackGroup(p.pgid)
	if cancelled {
		return fmt.Errorf("exec %s: %w", p.cmd.Args[0], context.Cause(ctx))
	}
	if ee := p.exit(); ee != nil {
		return ee
	}
	return copyErr
}

func closeAll(files []*os.File, more ...*os.File) {
	for _, f := range append(files, more...) {
		if f != nil {
			f.Close()
		}
	}
}

// started tells the caller the process runs, before any output is copied.
func started(s node.Streams) {
	if s.Started != nil {
		s.Started()
	}
}
