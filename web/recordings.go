package web

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// recording describes one asciicast v2 recording, as listed to the page.
type recording struct {
	// Name is the file name in the directory, the last element of its URL.
	Name      string `json:"name"`
	Title     string `json:"title,omitempty"`
	Timestamp int64  `json:"timestamp"` // start, Unix seconds
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Size      int64  `json:"size"` // bytes
	// Owner is the user whose session this is (the header's
	// env.PORTHOLE_USER, written by the gateway); empty when unknown.
	Owner string `json:"owner,omitempty"`
	// The session, from the header's env (the gateway's audit.Recorder
	// writes PORTHOLE_NAMESPACE, _POD, _CONTAINER, _COMMAND, _VERB).
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	Command   string `json:"command,omitempty"`
	Verb      string `json:"verb,omitempty"`
	// Duration is the time of the last event, in seconds (the file's
	// last maxTail bytes are read for it; 0 when none is found there).
	Duration float64 `json:"duration"`
}

// recordingsOptions configure newRecordings. The zero value is unusable:
// Source or Dir is required.
type recordingsOptions struct {
	// Source holds the recordings: named like "ID.cast" (the gateway's
	// audit.Recorder writes them). Other names are ignored.
	Source RecordingSource
	// Dir, without Source, is DirSource(Dir).
	Dir string
	// Visible reports whether the request's user may see rec. newRecordings
	// only authorizes: authentication is the embedding server's, in front
	// of this handler. nil shows every recording (single-user servers).
	Visible func(r *http.Request, rec recording) bool
	// Logger receives unreadable recordings (default: discarded).
	Logger *slog.Logger
}

// maxHeader bounds the first line of a recording that listing reads.
const maxHeader = 64 << 10

// castName is what a recording's file name may be: no path, no dot file.
var castName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*\.cast$`)

// newRecordings serves the recordings in opts.Dir that opts.Visible allows,
// for the page's player: GET / is {"items":[recording...]}, newest first;
// GET /NAME is the file (application/x-asciicast). Mount it with
// http.StripPrefix at the page's "recordings/" (/ui/recordings/ when the
// page is at /ui/). Hidden and missing recordings are both 404. It answers
// GET and HEAD, with the page's security headers, and is safe for
// concurrent use.
func newRecordings(opts *recordingsOptions) http.Handler {
	h := &recordings{}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Source == nil && h.opts.Dir != "" {
		h.opts.Source = DirSource(h.opts.Dir)
	}
	h.log = h.opts.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return secure(http.HandlerFunc(h.serve))
}

type recordings struct {
	opts recordingsOptions
	log  *slog.Logger
}

func (h *recordings) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		h.list(w, r)
		return
	}
	h.file(w, r, name)
}

func (h *recordings) list(w http.ResponseWriter, r *http.Request) {
	if h.opts.Source == nil {
		h.fail(w, "list recordings", errNoSource)
		return
	}
	infos, err := h.opts.Source.List(r.Context())
	if err != nil {
		h.fail(w, "list recordings", err)
		return
	}
	items := []recording{}
	for _, info := range infos {
		if !castName.MatchString(info.Name) {
			continue
		}
		rec, f, err := h.open(r, info.Name)
		if err != nil {
			h.log.Debug("skip recording", "name", info.Name, "err", err)
			continue
		}
		f.Close()
		if h.visible(r, rec) {
			items = append(items, rec)
		}
	}
	slices.SortFunc(items, func(a, b recording) int {
		return cmp.Or(cmp.Compare(b.Timestamp, a.Timestamp), strings.Compare(a.Name, b.Name))
	})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Items []recording `json:"items"`
	}{items})
}

func (h *recordings) file(w http.ResponseWriter, r *http.Request, name string) {
	if !castName.MatchString(name) || h.opts.Source == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	rec, f, err := h.open(r, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.log.Debug("recording not served", "name", name, "err", err)
		}
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	if !h.visible(r, rec) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		h.fail(w, "read recording", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-asciicast")
	http.ServeContent(w, r, "", time.Time{}, f)
}

func (h *recordings) visible(r *http.Request, rec recording) bool {
	return h.opts.Visible == nil || h.opts.Visible(r, rec)
}

func (h *recordings) fail(w http.ResponseWriter, what string, err error) {
	h.log.Error(what, "err", err)
	http.Error(w, "recordings unavailable", http.StatusInternalServerError)
}

// open opens recording name from the source and reads its header; the
// caller closes the returned file.
func (h *recordings) open(r *http.Request, name string) (recording, io.ReadSeekCloser, error) {
	f, size, err := h.opts.Source.Open(r.Context(), name)
	if err != nil {
		return recording{}, nil, err
	}
	rec, err := parseHeader(f)
	if err != nil {
		f.Close()
		return recording{}, nil, err
	}
	rec.Name, rec.Size = name, size
	rec.Duration = lastEventTime(f, size)
	return rec, f, nil
}

// maxTail bounds what lastEventTime reads from a recording's end.
const maxTail = 64 << 10

// lastEventTime returns the time of the last complete event line among
// the last maxTail bytes of f (size long), or 0. It moves f's offset.
func lastEventTime(f io.ReadSeeker, size int64) float64 {
	n := min(size, maxTail)
	buf := make([]byte, n)
	if _, err := f.Seek(size-n, io.SeekStart); err != nil {
		return 0
	}
	if _, err := io.ReadFull(f, buf); err != nil {
		return 0
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	for i := len(lines) - 1; i >= 0 && (n < size || i > 0); i-- { // the first line of a cut tail may be partial
		var ev []json.RawMessage
		if json.Unmarshal([]byte(lines[i]), &ev) != nil || len(ev) < 2 {
			continue
		}
		var t float64
		if json.Unmarshal(ev[0], &t) == nil && t >= 0 {
			return t
		}
	}
	return 0
}

// parseHeader reads the first line of an asciicast v2 file: a JSON object
// with version 2 and a positive width and height.
// ownerEnv is audit.OwnerEnv (web does not import audit).
const ownerEnv = "PORTHOLE_USER"

func parseHeader(r io.Reader) (recording, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxHeader)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return recording{}, fmt.Errorf("read asciicast header: %w", err)
	}
	var h struct {
		Version   int               `json:"version"`
		Width     int               `json:"width"`
		Height    int               `json:"height"`
		Timestamp int64             `json:"timestamp"`
		Title     string            `json:"title"`
		Env       map[string]string `json:"env"`
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return recording{}, fmt.Errorf("asciicast header: %w", err)
	}
	if h.Version != 2 || h.Width <= 0 || h.Height <= 0 {
		return recording{}, fmt.Errorf("asciicast header: version %d, size %dx%d: want version 2 and a size", h.Version, h.Width, h.Height)
	}
	return recording{Title: h.Title, Timestamp: h.Timestamp, Width: h.Width, Height: h.Height, Owner: h.Env[ownerEnv],
		Namespace: h.Env["PORTHOLE_NAMESPACE"], Pod: h.Env["PORTHOLE_POD"], Container: h.Env["PORTHOLE_CONTAINER"],
		Command: h.Env["PORTHOLE_COMMAND"], Verb: h.Env["PORTHOLE_VERB"]}, nil
}
