package gateway

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// session is one streaming request from authorization to its end. It
// carries what the audit record and the metrics need.
type session struct {
	g         *Gateway
	id        string
	user      *User
	source    string
	verb      string
	namespace string
	pod       string
	container string
	command   []string
	tty       bool
	stdin     bool
	stdout    bool
	stderr    bool
	wireIn    protocol.Wire
	// wireOut is set by the plan, before the session is listed; a fallback
	// after that changes it under mu (setWireOut), as the list reads it.
	wireOut protocol.Wire
	start   time.Time
	// moderated: its stdin waits for a moderator (ModeratedNamespaces).
	moderated bool
	// live lists an exec or attach session for watchers from begin to end
	// (nil for port-forward and before begin).
	live *live
	// onLimit, when set, tells the client why a limit ends its spliced
	// session (a WebSocket close frame), before the sockets close.
	onLimit func(*LimitError)
	// onUpstreamReset, when set, tells the client of a spliced session
	// that the upstream reset the connection, unless the upstream already
	// ended the session itself (the reset may have destroyed its end), and
	// reports whether it did.
	onUpstreamReset func() bool

	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	mu       sync.Mutex
	exitCode *int
	failure  string
	cutters  []func(reason string) // end the session's connections at once
	cutWhy   string
}

// setWireOut changes the upstream wire of a listed session (the bridge's
// fallback to SPDY).
func (s *session) setWireOut(w protocol.Wire) {
	s.mu.Lock()
	s.wireOut = w
	s.mu.Unlock()
}

// upstreamWire is wireOut for another goroutine than the session's.
func (s *session) upstreamWire() protocol.Wire {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wireOut
}

// outcome is how a session ended: the metrics' label and the audit
// record's.
type outcome string

const (
	outcomeOK      outcome = "ok"      // it ran to its end (any exit code)
	outcomeError   outcome = "error"   // it failed, or a side went away
	outcomeRefused outcome = "refused" // it never started: the upstream refused or failed the upgrade
	outcomeCut     outcome = "cut"     // the gateway ended it: a timeout, shutdown, a translated session's limit
	outcomeLimit   outcome = "limit"   // a spliced session broke a limit (message size, resize rate)
	// outcomeUpstreamError: it never started, the upstream could not be
	// reached or answered the upgrade wrongly.
	outcomeUpstreamError outcome = "upstream-error"
	// outcomeDetached is not an end: the session runs on without the
	// request's goroutine and ends itself (proxyInProcess).
	outcomeDetached outcome = ""
)

// newSession assigns an id; nothing is counted until begin.
func (g *Gateway) newSession(verb string, u *User, source string) *session {
	return &session{g: g, id: g.newSessionID(), user: u,
		source: source, verb: verb, start: time.Now()}
}

// want is the session's streams as the request asks for them.
func (s *session) want() protocol.Want {
	return protocol.Want{Stdin: s.stdin, Stdout: s.stdout, Stderr: s.stderr, TTY: s.tty}
}

// begin registers the session for Shutdown and the limits. It reports an
// error when the gateway is closing or a limit is reached.
func (s *session) begin() *status.HTTPError {
	g := s.g
	if ok, msg := g.limits.acquire(s.user.accountable()); !ok {
		return status.NewHTTPError(429, "TooManyRequests", msg, nil)
	}
	if !g.sessions.Add(s) {
		g.limits.release(s.user.accountable())
		return status.NewHTTPError(503, "ServiceUnavailable", "the gateway is shutting down", nil)
	}
	g.metrics.started(s.verb, string(s.wireIn))
	if s.verb != "portforward" {
		s.live = newLive(s, s.moderated)
		g.live.add(s.live)
	}
	s.record(audit.StageStart, "", "")
	return nil
}

// end releases the session and writes its end record. A detached
// session is not over: it calls end itself when it is.
func (s *session) end(out outcome) {
	if out == outcomeDetached {
		return
	}
	g := s.g
	if s.live != nil {
		g.live.remove(s.id)
		s.live.end()
	}
	g.limits.release(s.user.accountable())
	d := time.Since(s.start)
	g.metrics.ended(s.verb, string(s.wireIn), string(out), s.bytesIn.Load(), s.bytesOut.Load(), d)
	s.mu.Lock()
	reason := s.failure
	if s.cutWhy != "" {
		reason = s.cutWhy
	}
	s.mu.Unlock()
	s.record(audit.StageEnd, string(out), reason)
	g.log.Info("session ended", "id", s.id, "user", s.user.Name, "verb", s.verb, "namespace", s.namespace,
		"pod", s.pod, "wireIn", s.wireIn, "wireOut", s.wireOut, "outcome", out, "reason", reason,
		"bytesIn", s.bytesIn.Load(), "bytesOut", s.bytesOut.Load(), "duration", d)
	g.sessions.Remove(s)
}

// cutReason is why the session was cut ("" if it was not).
func (s *session) cutReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cutWhy
}

// onCut registers f to end a connection of the session at once.
func (s *session) onCut(f func(reason string)) {
	s.mu.Lock()
	s.cutters = append(s.cutters, f)
	why := s.cutWhy
	s.mu.Unlock()
	if why != "" {
		f(why)
	}
}

// cut ends the session's connections (shutdown, limits).
func (s *session) cut(reason string) {
	s.mu.Lock()
	if s.cutWhy != "" {
		s.mu.Unlock()
		return
	}
	s.cutWhy = reason
	fs := append([]func(string){}, s.cutters...)
	s.mu.Unlock()
	for _, f := range fs {
		f(reason)
	}
}

func (s *session) setExit(code int) {
	s.mu.Lock()
	s.exitCode = &code
	s.mu.Unlock()
}

func (s *session) fail(reason string) {
	s.mu.Lock()
	if s.failure == "" {
		s.failure = reason
	}
	s.mu.Unlock()
}

// deny writes the record of a request refused before any session began.
func (s *session) deny(herr *status.HTTPError) {
	ev := s.event(audit.StageDenied, "denied", herr.Error())
	ev.Code = herr.Code()
	s.emit(ev)
}

func (s *session) record(stage audit.Stage, outcome, reason string) {
	s.emit(s.event(stage, outcome, reason))
}

func (s *session) emit(ev audit.Event) {
	if s.g.opts.Audit == nil {
		return
	}
	if err := s.g.opts.Audit.Record(ev); err != nil {
		s.g.log.Error("audit record lost", "id", s.id, "err", err)
	}
}

func (s *session) event(stage audit.Stage, outcome, reason string) audit.Event {
	s.mu.Lock()
	exit := s.exitCode
	s.mu.Unlock()
	ev := audit.Event{Time: time.Now().UTC(), Stage: stage, ID: s.id, Source: s.source, Verb: s.verb,
		Namespace: s.namespace, Pod: s.pod, Container: s.container, Command: s.command, TTY: s.tty,
		WireIn: string(s.wireIn), WireOut: string(s.wireOut), Outcome: outcome, Reason: reason, ExitCode: exit}
	if s.user != nil {
		ev.User, ev.Groups, ev.ImpersonatedBy = s.user.Name, s.user.Groups, s.user.ImpersonatedBy
	}
	if stage == audit.StageEnd {
		ev.BytesIn, ev.BytesOut = s.bytesIn.Load(), s.bytesOut.Load()
		ev.Duration = strconv.FormatFloat(time.Since(s.start).Seconds(), 'f', 3, 64) + "s"
	}
	return ev
}
