package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Recorder writes terminal sessions as asciicast v2 files in a directory:
// a header line, then one [time, "o", data] event per chunk of output.
// Input is not recorded, so typed passwords stay out of the files.
type Recorder struct {
	Dir string
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// Closed, when set, is called with the path of each recording once its
	// file is closed (whatever Close returned), so an uploader can move it
	// off this replica's disk. It must not block for long.
	Closed func(path string)
}

// Header is the first line of an asciicast v2 file.
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// OwnerEnv is the header env key naming the user whose session was
// recorded; the web player shows a user only their own recordings.
const OwnerEnv = "PORTHOLE_USER"

// Start creates the recording file for session id. width and height are
// the terminal size when known; with 0 the header waits for the session's
// first Resize (80x24 if output comes first: asciicast needs a size).
func (r *Recorder) Start(id, title string, width, height int) (*Recording, error) {
	return r.StartOwned(id, title, "", width, height)
}

// Header env keys describing the session, beside OwnerEnv, for the
// recordings list: the pod, its container and the command run (words
// joined by spaces; empty for attach).
const (
	NamespaceEnv = "PORTHOLE_NAMESPACE"
	PodEnv       = "PORTHOLE_POD"
	ContainerEnv = "PORTHOLE_CONTAINER"
	CommandEnv   = "PORTHOLE_COMMAND"
	VerbEnv      = "PORTHOLE_VERB"
)

// StartOwned is Start for a session of owner (the authenticated user),
// written into the header's env as OwnerEnv.
func (r *Recorder) StartOwned(id, title, owner string, width, height int) (*Recording, error) {
	var env map[string]string
	if owner != "" {
		env = map[string]string{OwnerEnv: owner}
	}
	return r.StartEnv(id, title, env, width, height)
}

// StartEnv is Start with env written into the header (asciicast's env
// object): OwnerEnv and the session's description (PodEnv, ...). Empty
// values are left out.
func (r *Recorder) StartEnv(id, title string, env map[string]string, width, height int) (*Recording, error) {
	now := r.now()
	name := filepath.Join(r.Dir, unsafeName.ReplaceAllString(id, "_")+".cast")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	rec := &Recording{f: f, w: bufio.NewWriter(f), start: now, now: r.now, Path: name, closed: r.Closed,
		hdr: Header{Version: 2, Width: 80, Height: 24, Timestamp: now.Unix(), Title: title}}
	for k, v := range env {
		if v == "" {
			continue
		}
		if rec.hdr.Env == nil {
			rec.hdr.Env = map[string]string{}
		}
		rec.hdr.Env[k] = v
	}
	if width > 0 && height > 0 {
		rec.hdr.Width, rec.hdr.Height = width, height
		rec.writeHeader()
	}
	return rec, nil
}

func (r *Recorder) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Recording is one open asciicast file. Output and Close are safe for
// concurrent use. Output keeps incomplete UTF-8 sequences for the next call
// so multi-byte characters split across reads are recorded whole.
type Recording struct {
	Path  string
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	start time.Time
	now   func() time.Time
	tail  []byte
	err   error
	hdr   Header
	// headed: the header line is written (after the first size, or
	// before the first output).
	headed  bool
	resized bool
	closed  func(path string)
}

// writeHeader writes the header line once. The caller holds mu (or is
// the only user, in StartOwned).
func (r *Recording) writeHeader() {
	if r.headed {
		return
	}
	r.headed = true
	h, _ := json.Marshal(r.hdr)
	r.w.Write(h)
	r.w.WriteByte('\n')
}

// Resize records the terminal's new size: the header's size when it is
// the first (the session's initial size), else a resize event, so a
// player replays full-screen and wide sessions at the size they had.
func (r *Recording) Resize(width, height int) {
	if width <= 0 || height <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || r.f == nil {
		return
	}
	if !r.headed {
		r.hdr.Width, r.hdr.Height = width, height
		r.writeHeader()
		return
	}
	if width == r.hdr.Width && height == r.hdr.Height && !r.resized {
		return // the initial size again
	}
	r.resized = true
	r.line("r", strconv.Itoa(width)+"x"+strconv.Itoa(height))
}

// Write records p as output; it never fails the session: errors are kept
// for Close.
func (r *Recording) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || r.f == nil {
		return len(p), nil
	}
	data := append(r.tail, p...)
	cut := incompleteTail(data)
	r.tail = append([]byte(nil), data[cut:]...)
	r.event(data[:cut])
	return len(p), nil
}

// Marker records a marker event (asciicast v2 "m") labelled label: who
// joined, watched or ended the session, in order with its output.
func (r *Recording) Marker(label string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || r.f == nil {
		return
	}
	r.line("m", label)
}

func (r *Recording) event(data []byte) {
	if len(data) == 0 {
		return
	}
	r.line("o", string(data))
}

// line writes one [time, code, data] event, after the header.
func (r *Recording) line(code, data string) {
	r.writeHeader()
	s, _ := json.Marshal(data)
	t := r.now().Sub(r.start).Seconds()
	line := "[" + strconv.FormatFloat(t, 'f', 6, 64) + ", \"" + code + "\", " + string(s) + "]\n"
	if _, err := r.w.WriteString(line); err != nil {
		r.err = err
	}
}

// Close flushes and closes the file, then hands its path to the
// Recorder's Closed hook.
func (r *Recording) Close() error {
	closed, err := r.close()
	if closed && r.closed != nil {
		r.closed(r.Path)
	}
	return err
}

// close flushes and closes the file; closed reports whether this call did.
func (r *Recording) close() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return false, r.err
	}
	r.event(r.tail)
	r.tail = nil
	r.writeHeader()
	err := r.w.Flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.f = nil
	if r.err == nil {
		r.err = err
	}
	return true, r.err
}

// incompleteTail returns where a trailing incomplete UTF-8 sequence starts
// (len(data) when there is none).
func incompleteTail(data []byte) int {
	for i := len(data) - 1; i >= 0 && i >= len(data)-3; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				return i
			}
			break
		}
	}
	return len(data)
}
