package tarcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ExecFunc runs cmd in the container and returns when it ended: nil for
// exit code 0, an error with an ExitCode() int method (*status.ExitError) for another
// exit code,
// or the transport's error. stdin may be nil (no stdin stream); when it is
// not, its EOF must reach the command as end of input (the v5 close
// signal, or a SPDY FIN). package client binds its Exec to this shape.
type ExecFunc func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error

// resumer is the stdout of the container's `tar cf -`, reassembled across
// attempts (kubectl cp --retries): when an attempt's stream fails after n
// bytes in all, the next one runs `tar cf - 'src' | tail -c+(n+1)` and
// the bytes continue where they stopped. That is only right if the remote
// tar writes the same bytes each time, i.e. the files do not change.
//
// Not safe for concurrent use; Close joins the running attempt.
type resumer struct {
	ctx     context.Context
	exec    ExecFunc
	src     string
	retries int // 0: one attempt; < 0: unlimited
	// out receives the remote stderr and the retry notices; kubectl prints
	// both on stdout.
	out io.Writer
	// delay is the pause before retry number try (from 1).
	delay func(try int) time.Duration

	cur      *attempt
	received int64
	tries    int
}

// attempt is one exec of the remote tar, its stdout behind a pipe.
type attempt struct {
	pr     *io.PipeReader
	pw     *io.PipeWriter
	cancel context.CancelFunc
	done   chan error // the exec's result, sent once
}

// command is the remote command for an attempt starting at byte offset
// (0-based). Without retries it is kubectl's plain `tar cf - src`; with
// them every attempt goes through sh and tail, the first with +1: POSIX
// counts from 1, so +1 is the whole stream (kubectl sends +0, which GNU
// tail happens to read the same way).
func (r *resumer) command(offset int64) []string {
	if r.retries == 0 {
		return []string{"tar", "cf", "-", r.src}
	}
	quoted := strings.ReplaceAll(r.src, "'", `'\''`)
	return []string{"sh", "-c", fmt.Sprintf("tar cf - '%s' | tail -c+%d", quoted, offset+1)}
}

func (r *resumer) start() {
	ctx, cancel := context.WithCancel(r.ctx)
	pr, pw := io.Pipe()
	a := &attempt{pr: pr, pw: pw, cancel: cancel, done: make(chan error, 1)}
	r.cur = a
	go a.run(ctx, r.exec, r.command(r.received), r.out)
}

// run execs cmd with its stdout on the pipe; the pipe ends with the exec's
// error (io.EOF for success).
func (a *attempt) run(ctx context.Context, exec ExecFunc, cmd []string, stderr io.Writer) {
	err := exec(ctx, cmd, nil, a.pw, stderr)
	a.pw.CloseWithError(err)
	a.done <- err
}

// stop ends the attempt and returns its exec's error.
func (a *attempt) stop() error {
	a.cancel()
	a.pr.CloseWithError(context.Canceled)
	err := <-a.done
	a.done <- err // stop may be called again
	return err
}

// Read returns the stream's next bytes. A failed attempt (an exec error, or
// an end of stream that Read was still asked past) starts the next one
// while retries remain; then it returns the exec's error, or io.EOF when
// the last attempt exited 0.
func (r *resumer) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			r.start()
		}
		n, err := r.cur.pr.Read(p)
		r.received += int64(n)
		if err == nil || n > 0 {
			return n, nil
		}
		execErr := r.cur.stop()
		r.cur = nil
		if r.retries >= 0 && r.tries >= r.retries {
			if r.retries > 0 {
				fmt.Fprintf(r.out, "Dropping out copy after %d retries\n", r.tries)
			}
			if execErr != nil {
				return 0, execErr
			}
			return 0, io.EOF
		}
		if ctxErr := r.ctx.Err(); ctxErr != nil {
			return 0, ctxErr
		}
		r.tries++
		if err := r.pause(); err != nil {
			return 0, err
		}
		fmt.Fprintf(r.out, "Resuming copy at %d bytes, retry %d/%d\n", r.received, r.tries, r.retries)
	}
}

// pause waits r.delay(r.tries), or until ctx ends.
func (r *resumer) pause() error {
	d := r.delay(r.tries)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// RetryDelay is the default pause before retry try: none for the first
// (a cut connection is usually back at once), then 100ms doubling to 5s,
// so that unlimited retries against a remote that keeps failing do not
// spin. kubectl retries at once every time.
func RetryDelay(try int) time.Duration {
	if try <= 1 {
		return 0
	}
	return min(100*time.Millisecond<<min(try-2, 6), 5*time.Second)
}

// maxTrailer bounds what Finish reads past the end-of-archive marker. GNU
// tar pads its output to a 10 KiB record; a container that keeps talking
// after that is cut off rather than read forever.
const maxTrailer = 1 << 20

// ErrTrailer means more than maxTrailer bytes followed the archive.
var ErrTrailer = errors.New("unexpected data after the end of the tar archive")

// Finish reads the rest of the current attempt (tar pads its archive past
// the end marker, and the command cannot exit while its output is unread),
// without retrying, and returns its exec's error.
func (r *resumer) Finish() error {
	if r.cur == nil {
		return nil
	}
	n, err := io.Copy(io.Discard, io.LimitReader(r.cur.pr, maxTrailer+1))
	if n > maxTrailer {
		r.Close()
		return ErrTrailer
	}
	execErr := r.cur.stop()
	r.cur = nil
	if execErr != nil {
		return execErr
	}
	if err != nil {
		return fmt.Errorf("read after the archive: %w", err)
	}
	return nil
}

// Close cancels the current attempt and waits for it.
func (r *resumer) Close() {
	if r.cur != nil {
		r.cur.stop()
		r.cur = nil
	}
}
