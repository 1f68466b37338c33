package bucket

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/porthole/porthole/audit"
)

// Putter is where the Uploader puts recordings: a *Store.
type Putter interface {
	Put(ctx context.Context, name, owner string, r io.Reader, size int64) error
}

// UploaderOptions configure NewUploader. Zero durations take the defaults.
type UploaderOptions struct {
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// upload; it doubles from MinBackoff (1s) up to MaxBackoff (1m).
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one upload (default 5m).
	AttemptTimeout time.Duration
	Logger         *slog.Logger
	// Uploaded and Failed, when set, count outcomes (metrics).
	Uploaded, Failed func()
}

// Uploader moves closed recordings from a spool directory into a bucket,
// one at a time: it retries a failed upload with backoff for as long as it
// runs, deletes the local file only after the bucket holds all of it, and
// leaves whatever it could not upload in the spool for the next start,
// which queues every recording it finds there.
type Uploader struct {
	put  Putter
	dir  string
	opts UploaderOptions
	log  *slog.Logger

	mu      sync.Mutex
	pending map[string]*item // by file name
	wake    chan struct{}    // 1-buffered: the queue changed
	stop    context.CancelFunc
	ctx     context.Context
	done    chan struct{}
	closed  bool
}

type item struct {
	name     string
	attempts int
	next     time.Time // not before
}

// spoolName is what the Uploader takes from the spool: the recorder's
// ID.cast files (no dot files, no paths).
var spoolName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*\.cast$`)

// NewUploader starts an uploader of the recordings in dir and queues those
// already there (left by an earlier run). Call it before recording starts,
// so every file it finds is closed. Close stops it.
func NewUploader(put Putter, dir string, opts *UploaderOptions) (*Uploader, error) {
	u := &Uploader{put: put, dir: dir, pending: map[string]*item{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if opts != nil {
		u.opts = *opts
	}
	if u.opts.MinBackoff <= 0 {
		u.opts.MinBackoff = time.Second
	}
	if u.opts.MaxBackoff <= 0 {
		u.opts.MaxBackoff = time.Minute
	}
	if u.opts.AttemptTimeout <= 0 {
		u.opts.AttemptTimeout = 5 * time.Minute
	}
	u.log = u.opts.Logger
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("recording spool: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && spoolName.MatchString(e.Name()) {
			u.pending[e.Name()] = &item{name: e.Name()}
		}
	}
	if len(u.pending) > 0 {
		u.log.Info("uploading recordings left in the spool", "count", len(u.pending), "dir", dir)
		u.wake <- struct{}{}
	}
	u.ctx, u.stop = context.WithCancel(context.Background())
	go u.run()
	return u, nil
}

// Closed queues the recording at path; it is the audit.Recorder's Closed
// hook. Paths outside the spool are ignored.
func (u *Uploader) Closed(path string) {
	name := filepath.Base(path)
	if filepath.Dir(path) != filepath.Clean(u.dir) || !spoolName.MatchString(name) {
		u.log.Error("recording outside the spool not uploaded", "path", path)
		return
	}
	u.mu.Lock()
	if _, ok := u.pending[name]; !ok && !u.closed {
		u.pending[name] = &item{name: name}
	}
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Pending returns how many recordings wait for upload.
func (u *Uploader) Pending() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.pending)
}

// Close waits until every queued recording is uploaded or ctx ends (the
// shutdown grace), then stops the uploader: an upload in flight is
// cancelled and stays in the spool with the rest, for the next start. It
// returns an error naming how many were left.
func (u *Uploader) Close(ctx context.Context) error {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
	select {
	case <-u.done: // drained
	case <-ctx.Done():
		u.stop()
		<-u.done
	}
	u.stop()
	if n := u.Pending(); n > 0 {
		u.log.Warn("recordings left in the spool for the next start", "count", n, "dir", u.dir)
		return fmt.Errorf("%d recordings not uploaded, left in %s for the next start", n, u.dir)
	}
	return nil
}

// run uploads the due items until stopped, or, once Close was called,
// until none are left.
func (u *Uploader) run() {
	defer close(u.done)
	for {
		it, wait, drained := u.due()
		if drained {
			return
		}
		if it == nil {
			if !u.sleep(wait) {
				return
			}
			continue
		}
		err := u.upload(it.name)
		if u.ctx.Err() != nil {
			return // stopped mid-upload: the file stays for the next start
		}
		u.mu.Lock()
		if err == nil {
			delete(u.pending, it.name)
		} else {
			it.attempts++
			it.next = time.Now().Add(u.backoff(it.attempts))
		}
		u.mu.Unlock()
		if err == nil {
			u.log.Info("recording uploaded", "name", it.name)
			if u.opts.Uploaded != nil {
				u.opts.Uploaded()
			}
		} else {
			u.log.Warn("recording upload failed, will retry", "name", it.name, "attempt", it.attempts, "err", err)
			if u.opts.Failed != nil {
				u.opts.Failed()
			}
		}
	}
}

// sleep waits for wait (0: until woken) or a wake; false when stopped.
func (u *Uploader) sleep(wait time.Duration) bool {
	var timer <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-u.ctx.Done():
		return false
	case <-u.wake:
	case <-timer:
	}
	return true
}

// due returns the next item whose time has come, or how long until one
// will; drained is true once Close was called and nothing is left.
func (u *Uploader) due() (it *item, wait time.Duration, drained bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.pending) == 0 {
		return nil, 0, u.closed
	}
	now := time.Now()
	for _, p := range u.pending {
		if !p.next.After(now) {
			if it == nil || p.next.Before(it.next) {
				it = p
			}
			continue
		}
		if d := p.next.Sub(now); wait == 0 || d < wait {
			wait = d
		}
	}
	return it, wait, false
}

func (u *Uploader) backoff(attempts int) time.Duration {
	d := u.opts.MinBackoff
	for i := 1; i < attempts && d < u.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, u.opts.MaxBackoff)
}

// upload puts one spooled file into the bucket and removes it after.
func (u *Uploader) upload(name string) error {
	root, err := os.OpenRoot(u.dir)
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed by hand: nothing to upload
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	owner := ownerOf(f)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(u.ctx, u.opts.AttemptTimeout)
	defer cancel()
	if err := u.put.Put(ctx, name, owner, f, fi.Size()); err != nil {
		return err
	}
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		u.log.Error("uploaded recording not removed from the spool", "name", name, "err", err)
	}
	return nil
}

// ownerOf reads the recorded user from an asciicast header ("" if none).
func ownerOf(r io.Reader) string {
	line, _ := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadBytes('\n')
	var h audit.Header
	if json.Unmarshal(line, &h) != nil {
		return ""
	}
	return h.Env[audit.OwnerEnv]
}
