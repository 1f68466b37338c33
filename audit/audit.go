// Package audit records streaming sessions: one JSON line per session start
// and end (JSONLog), and terminal output as asciicast v2 files (Recorder).
// It knows nothing about HTTP or wires; the gateway fills the records.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Stage tells whether a record opens or closes a session.
type Stage string

const (
	StageStart Stage = "SessionStart"
	StageEnd   Stage = "SessionEnd"
	// StageDenied is a request refused before any session started.
	StageDenied Stage = "Denied"
	// StageResume is a client reattaching to its session after a cut
	// (the session's id, the resuming request's source).
	StageResume Stage = "SessionResume"
	// StageWatch and StageJoin are a user (the record's User) starting
	// to watch or join another's session (ID); StageLeave, its end.
	StageWatch Stage = "SessionWatch"
	StageJoin  Stage = "SessionJoin"
	StageLeave Stage = "SessionLeave"
	// StageModeratorEnd is a moderator (User) ending a session (ID).
	StageModeratorEnd Stage = "SessionModeratorEnd"
)

// Event is one audit record. Fields that do not apply are omitted.
type Event struct {
	Time   time.Time `json:"time"`
	Stage  Stage     `json:"stage"`
	ID     string    `json:"id"`
	User   string    `json:"user"`
	Groups []string  `json:"groups,omitempty"`
	// ImpersonatedBy is the authenticated caller when User is one it
	// impersonated (kubectl --as).
	ImpersonatedBy string   `json:"impersonatedBy,omitempty"`
	Source         string   `json:"source"`
	Verb           string   `json:"verb"`
	Namespace      string   `json:"namespace"`
	Pod            string   `json:"pod"`
	Container      string   `json:"container,omitempty"`
	Command        []string `json:"command,omitempty"`
	TTY            bool     `json:"tty,omitempty"`
	// WireIn is the client's wire (websocket, spdy); WireOut the
	// upstream's, or in-process for a node in the gateway's process.
	WireIn  string `json:"wireIn,omitempty"`
	WireOut string `json:"wireOut,omitempty"`
	// BytesIn (client to upstream) and BytesOut count payload bytes of
	// translated sessions and wire bytes (framing included) of spliced ones.
	BytesIn  int64 `json:"bytesIn"`
	BytesOut int64 `json:"bytesOut"`
	// ExitCode is the remote exit code when the gateway saw it (translated
	// sessions); nil otherwise.
	ExitCode *int `json:"exitCode,omitempty"`
	// Duration of the session, on the end record.
	Duration string `json:"duration,omitempty"`
	Outcome  string `json:"outcome,omitempty"`
	// Reason says why the request was denied or the session failed.
	Reason string `json:"reason,omitempty"`
	Code   int    `json:"code,omitempty"`
	// Owner is the user whose session a watch, join or moderator's end
	// concerns (User is who watched, joined or ended it).
	Owner string `json:"owner,omitempty"`
	// Moderator: the joining user is the session's moderator.
	Moderator bool `json:"moderator,omitempty"`
}

// Sink receives audit events. Implementations are safe for concurrent use
// and must not block for long: the gateway calls them on the request path.
type Sink interface {
	Record(Event) error
}

// JSONLog writes each event as one JSON line. It is safe for concurrent
// use; the writer is used under a lock, one Write per line.
type JSONLog struct {
	mu sync.Mutex
	w  io.Writer
}

// NewJSONLog returns a log writing to w. The caller keeps ownership of w.
func NewJSONLog(w io.Writer) *JSONLog { return &JSONLog{w: w} }

// Record writes e as one line.
func (l *JSONLog) Record(e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit event: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(b); err != nil {
		return fmt.Errorf("write audit event: %w", err)
	}
	return nil
}

// Multi records each event in every sink of it, in order; their errors
// are joined.
type Multi []Sink

// Record records e in every sink.
func (m Multi) Record(e Event) error {
	var errs []error
	for _, s := range m {
		if err := s.Record(e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
