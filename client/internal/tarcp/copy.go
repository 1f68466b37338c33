package tarcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"
)

// probeTimeout bounds the `test -d` probe, as kubectl bounds it.
const probeTimeout = 30 * time.Second

// UploadOptions describe a copy from this machine into a container.
type UploadOptions struct {
	// Src is the local file or directory.
	Src string
	// Dest is the path in the container. When it is an existing directory
	// there, Src is copied into it under its own name; otherwise Src is
	// copied to Dest itself.
	Dest string
	// NoPreserve makes the remote tar ignore the archive's owners and
	// modes (--no-same-owner --no-same-permissions).
	NoPreserve bool
	// Stdout and Stderr receive the remote tar's output (nil: discarded).
	Stdout, Stderr io.Writer
	// Progress, when set, is called with the number of archive bytes sent
	// so far, from the goroutine that writes them.
	Progress func(total int64)
}

// Upload copies o.Src into the container: `test -d Dest` decides the
// target name, then `tar -xmf - -C dir` reads the archive Pack writes on
// its stdin, which ends with an EOF (the exec's half-close) so tar exits.
// It returns the first failure: a missing source, the pack error, or the
// exec's (a non-zero exit of the remote tar carries its code).
func Upload(ctx context.Context, exec ExecFunc, o *UploadOptions) error {
	if o.Dest == "" {
		return errors.New("filepath can not be empty")
	}
	if _, err := os.Lstat(o.Src); err != nil {
		return fmt.Errorf("%s doesn't exist in local filesystem", o.Src)
	}
	dest := path.Clean(o.Dest)
	isDir, err := probeDir(ctx, exec, dest)
	if err != nil {
		return err
	}
	if isDir {
		dest = path.Join(dest, filepath.Base(filepath.Clean(o.Src)))
	}
	cmd := []string{"tar", "-xmf", "-"}
	if o.NoPreserve {
		cmd = []string{"tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-"}
	}
	cmd = append(cmd, "-C", path.Dir(dest))
	return upload(ctx, exec, cmd, o, path.Base(dest))
}

// probeDir runs `test -d dest`: exit 0 is a directory, another exit code
// is not. A transport failure ends the copy, where kubectl would go on and
// fail at the next exec with the same error.
func probeDir(ctx context.Context, exec ExecFunc, dest string) (bool, error) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := exec(pctx, []string{"test", "-d", dest}, nil, io.Discard, io.Discard)
	if err == nil {
		return true, nil
	}
	var exit interface{ ExitCode() int }
	if errors.As(err, &exit) {
		return false, nil
	}
	return false, fmt.Errorf("check whether %s is a directory: %w", dest, err)
}

// upload runs cmd with the archive of o.Src, named name, on its stdin.
func upload(ctx context.Context, exec ExecFunc, cmd []string, o *UploadOptions, name string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	packed := make(chan error, 1)
	go packTo(ctx, pw, o, name, packed)
	var stdin io.Reader = pr
	if o.Progress != nil {
		stdin = &progressReader{r: pr, fn: o.Progress}
	}
	execErr := exec(ctx, cmd, stdin, orDiscard(o.Stdout), orDiscard(o.Stderr))
	// The exec is over: nothing reads the pipe any more, so unblock Pack.
	pr.CloseWithError(errRemoteExited)
	cancel()
	packErr := <-packed
	// A local failure (an unreadable file) is the cause of the remote tar's
	// complaint about a short archive, so it comes first. Pack stopped by
	// the closed pipe (or by the cancel after the exec) is no failure when
	// the remote tar exited 0: it had what it needed (busybox tar may stop
	// reading at the first zero block).
	if packErr != nil && !errors.Is(packErr, errRemoteExited) && !errors.Is(packErr, context.Canceled) {
		return packErr
	}
	return execErr
}

// errRemoteExited ends Pack's writes once the exec is over.
var errRemoteExited = errors.New("remote tar exited")

// packTo writes the archive into pw, closing it with Pack's result.
func packTo(ctx context.Context, pw *io.PipeWriter, o *UploadOptions, name string, done chan<- error) {
	err := Pack(ctx, pw, o.Src, name, o.Stderr)
	pw.CloseWithError(err)
	done <- err
}

// DownloadOptions describe a copy from a container to this machine.
type DownloadOptions struct {
	// Src is the path in the container.
	Src string
	// Dest is the local path (see Extract for where things land).
	Dest string
	// Retries is how many times a failed stream is resumed: 0 never,
	// negative without limit.
	Retries int
	// Stdout receives the remote tar's stderr and the retry notices, where
	// kubectl prints them (nil: discarded).
	Stdout io.Writer
	// Progress, when set, is called with the number of archive bytes
	// received so far.
	Progress func(total int64)
	// RetryDelay is the pause before retry number try, from 1 (nil:
	// the package's RetryDelay).
	RetryDelay func(try int) time.Duration
}

// Download copies o.Src out of the container: it runs `tar cf - Src`
// (resumable with o.Retries) and extracts the stream with Extract, so
// nothing is written outside o.Dest. It returns Extract's error (an
// *UnsafeEntryError, ErrTruncated, or wrapped, the exec's error that cut
// the stream) or, after a complete archive, the exec's.
func Download(ctx context.Context, exec ExecFunc, o *DownloadOptions) error {
	if o.Src == "" || o.Dest == "" {
		return errors.New("filepath can not be empty")
	}
	src := path.Clean(o.Src)
	delay := o.RetryDelay
	if delay == nil {
		delay = RetryDelay
	}
	r := &resumer{ctx: ctx, exec: exec, src: src, retries: o.Retries, out: orDiscard(o.Stdout), delay: delay}
	defer r.Close()
	var in io.Reader = r
	if o.Progress != nil {
		in = &progressReader{r: r, fn: o.Progress}
	}
	// When the remote tar fails, the resumer hands its exec error (with the
	// exit code) to Extract in place of io.EOF, so it ends up in err.
	if err := Extract(in, o.Dest, Prefix(src)); err != nil {
		var unsafe *UnsafeEntryError
		if errors.As(err, &unsafe) {
			return err
		}
		// GNU tar writes a complete, empty archive for a missing path and
		// exits 2: the exit code says more than ErrEmpty does.
		var exit interface{ ExitCode() int }
		if finErr := r.Finish(); errors.As(finErr, &exit) {
			return finErr
		}
		return err
	}
	return r.Finish()
}

// progressReader reports the running total of bytes read.
type progressReader struct {
	r     io.Reader
	fn    func(int64)
	total int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.total += int64(n)
		p.fn(p.total)
	}
	return n, err
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
