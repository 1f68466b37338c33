package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// defaultContainerAnnotation names the container kubectl and the API server
// pick when a request names none.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// logOptions are the pods/log query parameters (PodLogOptions).
type logOptions struct {
	container  string
	follow     bool
	previous   bool
	timestamps bool
	since      time.Time // zero: no bound
	tailLines  int64     // -1: all
	limitBytes int64     // 0: no limit
}

func parseLogOptions(r *http.Request, now time.Time) (logOptions, *status.HTTPError) {
	q := r.URL.Query()
	o := logOptions{container: q.Get("container"), tailLines: -1}
	var err error
	// Booleans as the API server reads them (the official Python client
	// sends "True").
	boolean := func(name string) bool { return protocol.QueryBool(q, name) }
	integer := func(name string, min int64) int64 {
		if err != nil || q.Get(name) == "" {
			return -1
		}
		v, perr := strconv.ParseInt(q.Get(name), 10, 64)
		if perr != nil || v < min {
			err = fmt.Errorf("%s: %q must be an integer of at least %d", name, q.Get(name), min)
		}
		return v
	}
	o.follow, o.previous, o.timestamps = boolean("follow"), boolean("previous"), boolean("timestamps")
	o.tailLines = integer("tailLines", 0)
	if v := integer("limitBytes", 1); v > 0 {
		o.limitBytes = v
	}
	// Past what a Duration holds, every line is newer: no bound (a larger
	// number would wrap into the future and hide them all).
	if v := integer("sinceSeconds", 1); v > 0 && v < int64(math.MaxInt64/time.Second) {
		o.since = now.Add(-time.Duration(v) * time.Second)
	}
	if s := q.Get("sinceTime"); s != "" && err == nil {
		if !o.since.IsZero() {
			err = errors.New("at most one of sinceTime or sinceSeconds may be specified")
		} else if o.since, err = time.Parse(time.RFC3339, s); err != nil {
			err = fmt.Errorf("sinceTime: %q is not an RFC 3339 time", s)
		}
	}
	if err != nil {
		return o, badRequest("%s", err.Error())
	}
	return o, nil
}

// pickContainer is the container a log request reads, in the API server's
// words when it cannot tell.
func pickContainer(p *kube.Pod, name string) (string, *status.HTTPError) {
	var names []string
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	switch {
	case name != "":
		if _, ok := p.FindContainer(name); !ok {
			return "", badRequest("container %s is not valid for pod %s", name, p.Name)
		}
		return name, nil
	case p.Annotations[defaultContainerAnnotation] != "" && slices.Contains(names, p.Annotations[defaultContainerAnnotation]):
		return p.Annotations[defaultContainerAnnotation], nil
	case len(names) == 1:
		return names[0], nil
	}
	return "", badRequest("a container name must be specified for pod %s, choose one of: %v", p.Name, names)
}

// ServeLog answers a container log request from rt's kept output, as the
// kubelet does (and the API server relays): plain text, with follow
// streaming until the container's run ends or the client leaves. The
// query is PodLogOptions' (container among them). An error comes back
// before anything is written, for the caller to answer in its own way.
func ServeLog(w http.ResponseWriter, r *http.Request, rt Runtime, namespace, name string, now time.Time) *status.HTTPError {
	if r.Method != http.MethodGet {
		return &status.HTTPError{Status: status.NewHTTP(http.StatusMethodNotAllowed, status.ReasonMethodNotAllowed,
			"the server does not allow this method on the requested resource", &status.Details{})}
	}
	p, err := rt.Pod(r.Context(), namespace, name)
	if errors.Is(err, ErrNotFound) {
		return notFound("pods", name)
	}
	if err != nil {
		return internalError(fmt.Errorf("get pod: %w", err))
	}
	o, aerr := parseLogOptions(r, now)
	if aerr != nil {
		return aerr
	}
	cname, aerr := pickContainer(p, o.container)
	if aerr != nil {
		return aerr
	}
	lr, ok := rt.(LogRuntime)
	if !ok {
		return badRequest("this runtime keeps no container logs")
	}
	run, err := lr.LogRun(Container{PodRef: PodRef{Namespace: namespace, Name: name, UID: string(p.UID)}, Name: cname}, o.previous)
	switch {
	case errors.Is(err, ErrNotFound):
		return badRequest("%s", strings.TrimSuffix(err.Error(), ": "+ErrNotFound.Error()))
	case errors.Is(err, ErrNotStarted):
		return badRequest("%s", strings.TrimSuffix(err.Error(), ": "+ErrNotStarted.Error()))
	case err != nil:
		return internalError(err)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	lw := &logWriter{w: w, o: o, left: o.limitBytes}
	data, lines, next, changed, ended := run.Read(0)
	lw.first(data, next-int64(len(data)), lines)
	if !o.follow || lw.full() {
		return nil
	}
	for !ended {
		lw.flush()
		select {
		case <-changed:
		case <-r.Context().Done():
			return nil
		}
		from := next
		data, lines, next, changed, ended = run.Read(from)
		lw.emit(splitLines(data, next-int64(len(data)), lines))
		if lw.full() {
			return nil
		}
	}
	lw.flush()
	return nil
}

// internalError is the API server's 500 for err.
func internalError(err error) *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusInternalServerError, status.ReasonInternalError,
		"Internal error occurred: "+err.Error(), &status.Details{Causes: []status.Cause{{Message: err.Error()}}}), Cause: err}
}

// logLine is one line (or the kept part of one) of output.
type logLine struct {
	start int64 // offset of the line's first byte
	time  time.Time
	text  []byte // its bytes from the read's start on, newline included
}

// splitLines cuts data, which begins at offset base, at the line starts.
// The first piece may continue a line begun before base (start < base).
func splitLines(data []byte, base int64, starts []LineStart) []logLine {
	var out []logLine
	for i, s := range starts {
		from := max(s.Offset, base) - base
		to := int64(len(data))
		if i+1 < len(starts) {
			to = starts[i+1].Offset - base
		}
		if from >= int64(len(data)) || to <= 0 {
			continue
		}
		out = append(out, logLine{start: s.Offset, time: s.Time, text: data[from:min(to, int64(len(data)))]})
	}
	return out
}

// logWriter writes lines as asked: since, tail (first read only),
// timestamps and the byte limit.
type logWriter struct {
	w    io.Writer
	o    logOptions
	left int64 // bytes the limit still allows; 0 without a limit
	base int64 // the offset after the last byte written
	done bool
}

func (l *logWriter) first(data []byte, base int64, starts []LineStart) {
	lines := splitLines(data, base, starts)
	if !l.o.since.IsZero() {
		lines = slices.DeleteFunc(lines, func(x logLine) bool { return x.time.Before(l.o.since) })
	}
	if l.o.tailLines >= 0 && int64(len(lines)) > l.o.tailLines {
		lines = lines[int64(len(lines))-l.o.tailLines:]
	}
	l.emit(lines)
}

func (l *logWriter) emit(lines []logLine) {
	var b bytes.Buffer
	for i, x := range lines {
		if !l.o.since.IsZero() && x.time.Before(l.o.since) {
			continue
		}
		// A line begun in an earlier read has had its timestamp.
		continued := i == 0 && l.base > 0 && x.start < l.base
		if l.o.timestamps && !continued {
			b.WriteString(x.time.UTC().Format(time.RFC3339Nano))
			b.WriteByte(' ')
		}
		b.Write(x.text)
		l.base = x.start + int64(len(x.text))
	}
	p := b.Bytes()
	if l.o.limitBytes > 0 {
		if int64(len(p)) >= l.left {
			p, l.done = p[:l.left], true
		}
		l.left -= int64(len(p))
	}
	_, _ = l.w.Write(p)
}

func (l *logWriter) full() bool { return l.done }

func (l *logWriter) flush() {
	if f, ok := l.w.(http.Flusher); ok {
		f.Flush()
	}
}
