package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/transport/websocket"
)

// sessionsRoutes serves the sessions API (protocol.SessionsPath): list,
// get, watch, join and, for moderators, end.
func (g *Gateway) sessionsRoutes() {
	base := protocol.SessionsPath
	g.mux.HandleFunc(base+"/sessions", func(w http.ResponseWriter, r *http.Request) { g.listSessions(w, r, "") })
	g.mux.HandleFunc(base+"/namespaces/{ns}/sessions", func(w http.ResponseWriter, r *http.Request) {
		g.listSessions(w, r, r.PathValue("ns"))
	})
	g.mux.HandleFunc(base+"/namespaces/{ns}/sessions/{id}", g.oneSession)
	g.mux.HandleFunc(base+"/namespaces/{ns}/sessions/{id}/watch", func(w http.ResponseWriter, r *http.Request) {
		g.serveWatcher(w, r, r.PathValue("ns"), r.PathValue("id"), false)
	})
	g.mux.HandleFunc(base+"/namespaces/{ns}/sessions/{id}/join", func(w http.ResponseWriter, r *http.Request) {
		g.serveWatcher(w, r, r.PathValue("ns"), r.PathValue("id"), true)
	})
}

// sessionsAttrs is the authorization of verb on the sessions of ns (all
// namespaces when ""), or session id.
func sessionsAttrs(r *http.Request, verb, ns, id string) Attributes {
	return Attributes{User: userFrom(r.Context()), Verb: verb, APIGroup: protocol.SessionsGroup,
		Namespace: ns, Resource: "sessions", Name: id}
}

// admitSessions checks origin, method and authorization of a sessions
// request; a refusal is answered and audited.
func (g *Gateway) admitSessions(w http.ResponseWriter, r *http.Request, a Attributes, methods ...string) bool {
	herr := g.checkOrigin(r)
	if herr == nil && !slices.Contains(methods, r.Method) {
		herr = status.NewHTTPError(http.StatusMethodNotAllowed, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil)
	}
	if herr == nil {
		herr = g.authorize(r.Context(), a)
	}
	if herr == nil {
		return true
	}
	g.auditSessions(audit.Event{Stage: audit.StageDenied, ID: a.Name, Verb: "sessions/" + a.Verb, Namespace: a.Namespace,
		Source: r.RemoteAddr, Outcome: "denied", Reason: herr.Error(), Code: herr.Code()}, a.User)
	g.refuse(w, r, nil, herr)
	return false
}

// auditSessions writes ev for user u.
func (g *Gateway) auditSessions(ev audit.Event, u *User) {
	if g.opts.Audit == nil {
		return
	}
	ev.Time = time.Now().UTC()
	if u != nil {
		ev.User, ev.Groups = u.Name, u.Groups
	}
	if err := g.opts.Audit.Record(ev); err != nil {
		g.log.Error("audit record lost", "id", ev.ID, "err", err)
	}
}

// watchEvent is the audit record of user u watching, joining or ending
// l's session.
func (l *live) watchEvent(stage audit.Stage, r *http.Request, verb string) audit.Event {
	s := l.s
	return audit.Event{Stage: stage, ID: s.id, Owner: s.user.Name, Source: r.RemoteAddr, Verb: "sessions/" + verb,
		Namespace: s.namespace, Pod: s.pod, Container: s.container, Command: s.command, TTY: s.tty}
}

func (g *Gateway) listSessions(w http.ResponseWriter, r *http.Request, ns string) {
	if !g.admitSessions(w, r, sessionsAttrs(r, "list", ns, ""), http.MethodGet) {
		return
	}
	list := protocol.SessionList{Kind: "SessionList", APIVersion: protocol.SessionsGroup + "/" + protocol.SessionsVersion,
		Items: []protocol.SessionInfo{}}
	for _, l := range g.live.list(ns) {
		list.Items = append(list.Items, l.info())
	}
	if !fromPeer(r.Context()) && len(g.opts.Peers) > 0 {
		list.Items = append(list.Items, g.peerSessions(r.Context(), ns, userFrom(r.Context()))...)
		slices.SortStableFunc(list.Items, func(a, b protocol.SessionInfo) int { return a.Start.Compare(b.Start) })
	}
	writeJSON(w, http.StatusOK, list)
}

// oneSession answers GET (verb get) and DELETE (verb moderate: a
// moderator ends the session) of one session.
func (g *Gateway) oneSession(w http.ResponseWriter, r *http.Request) {
	ns, id := r.PathValue("ns"), r.PathValue("id")
	verb := "get"
	if r.Method == http.MethodDelete {
		verb = "moderate"
	}
	if !g.admitSessions(w, r, sessionsAttrs(r, verb, ns, id), http.MethodGet, http.MethodDelete) || g.toPeer(w, r, id) {
		return
	}
	l := g.live.get(id)
	if l == nil || l.s.namespace != ns {
		g.refuse(w, r, nil, sessionNotFound(id))
		return
	}
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, l.info())
		return
	}
	u := userFrom(r.Context())
	why := "ended by moderator " + u.Name
	l.marker(why)
	g.auditSessions(l.watchEvent(audit.StageModeratorEnd, r, verb), u)
	g.log.Info("session ended by a moderator", "id", id, "moderator", u.Name, "owner", l.s.user.Name)
	l.s.cut(why)
	writeJSON(w, http.StatusOK, status.NewSuccess())
}

func sessionNotFound(id string) *status.HTTPError {
	return status.NewHTTPError(http.StatusNotFound, "NotFound", "sessions "+strconv.Quote(id)+" not found", nil)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// info describes the session for a list.
func (l *live) info() protocol.SessionInfo {
	s := l.s
	in := protocol.SessionInfo{ID: s.id, User: s.user.Name, Verb: s.verb, Namespace: s.namespace, Pod: s.pod,
		Container: s.container, Command: s.command, Start: s.start.UTC(), Wire: string(s.wireIn),
		WireUpstream: string(s.upstreamWire()), TTY: s.tty, Stdin: s.stdin, Moderated: l.moderated,
		WaitingForModerator: l.moderated && l.held(), Watchers: []protocol.WatcherInfo{}}
	l.mu.Lock()
	in.Width, in.Height, in.Joinable = l.width, l.height, l.gate != nil
	for _, w := range l.watchers {
		mode := "watch"
		if w.join {
			mode = "join"
		}
		in.Watchers = append(in.Watchers, protocol.WatcherInfo{User: w.user, Mode: mode, Moderator: w.mod, Since: w.since.UTC()})
	}
	l.mu.Unlock()
	return in
}

// serveWatcher serves a watch (output only) or a join (keystrokes too) of
// a session over WebSocket v5.channel.k8s.io: the output from the
// snapshot on, until the session ends (then its exit status) or the
// watcher falls too far behind (then a failure status).
func (g *Gateway) serveWatcher(w http.ResponseWriter, r *http.Request, ns, id string, join bool) {
	verb := "watch"
	if join {
		verb = "join"
	}
	if !g.admitSessions(w, r, sessionsAttrs(r, verb, ns, id), http.MethodGet) || g.toPeer(w, r, id) {
		return
	}
	u := userFrom(r.Context())
	l := g.live.get(id)
	var herr *status.HTTPError
	switch {
	case !protocol.IsWebSocketUpgrade(r):
		herr = status.NewHTTPError(http.StatusBadRequest, "BadRequest", "a watch or join is a WebSocket upgrade (v5.channel.k8s.io)", nil)
	case !offersV5(r):
		herr = status.NewHTTPError(http.StatusBadRequest, "BadRequest", "a watch or join speaks "+protocol.V5+" only", nil)
	case l == nil || l.s.namespace != ns:
		herr = sessionNotFound(id)
	case join && !l.s.stdin:
		herr = status.NewHTTPError(http.StatusConflict, "Conflict", "session "+strconv.Quote(id)+" has no stdin to join: watch it", nil)
	case join && !l.joinable():
		herr = status.NewHTTPError(http.StatusConflict, "Conflict", "session "+strconv.Quote(id)+" passes through the gateway spliced, so its input cannot be joined: watch it (the gateway's --session-join bridges interactive sessions so they can be)", nil)
	}
	if herr != nil {
		g.refuse(w, r, nil, herr)
		return
	}
	// A moderator is someone else, allowed to moderate sessions there.
	mod := join && l.moderated && u.Name != l.s.user.Name &&
		g.authorize(r.Context(), sessionsAttrs(r, "moderate", ns, id)) == nil
	wt := newWatcher(u.Name, join, mod)
	dropCtx, drop := context.WithCancel(context.Background())
	defer drop()
	wt.drop = drop
	if ok, full := l.addWatcher(wt); !ok {
		herr = sessionNotFound(id)
		if full {
			herr = status.NewHTTPError(http.StatusTooManyRequests, "TooManyRequests", "session "+strconv.Quote(id)+" has "+strconv.Itoa(maxWatchers)+" watchers already", nil)
		}
		g.refuse(w, r, nil, herr)
		return
	}
	defer l.removeWatcher(wt)
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Versions: []protocol.Version{v5}, ReadLimit: g.opts.MaxMessageBytes, IdleTimeout: g.opts.IdleTimeout,
		KeepAlive: g.opts.KeepAlive, OnKeepAlive: g.metrics.keepAlives.Inc,
		InsecureSkipOriginCheck: true, // checked by admitSessions
		Logger:                  g.log,
	})
	if err != nil {
		g.log.Info("watch: accept websocket failed", "id", id, "err", err)
		return
	}
	stage, what := audit.StageWatch, u.Name+" is watching this session"
	if join {
		stage, what = audit.StageJoin, u.Name+" joined this session (input too)"
	}
	ev := l.watchEvent(stage, r, verb)
	ev.Moderator = mod
	g.auditSessions(ev, u)
	l.marker(what)
	l.notify(what)
	if mod && l.held() {
		l.release()
		msg := "moderator " + u.Name + " joined: input is open"
		l.marker(msg)
		l.notify(msg)
	}
	g.log.Info("session watcher", "id", id, "user", u.Name, "join", join, "moderator", mod, "owner", l.s.user.Name)

	sess := ws.ServerSession(protocol.Want{Stdin: join, Stdout: true, TTY: true})
	_, _ = sess.Connected.Write(nil)
	stop := context.AfterFunc(ws.Context(), func() { wt.stop("the watcher went away") })
	// A dropped watcher's connection is aborted with the reason: its
	// handler may be stuck writing to it, and a status could not pass.
	stopDrop := context.AfterFunc(dropCtx, func() { _ = ws.Abort(whyTooSlow) })
	var side sync.WaitGroup
	if sess.Stdin != nil {
		side.Add(1)
		go func() {
			defer side.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := sess.Stdin.Read(buf)
				if n > 0 {
					if ierr := l.inject(buf[:n]); ierr != nil && !errors.Is(ierr, errHeldFull) {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
	if sess.Resize != nil { // the owner's terminal sets the size: read and dropped
		side.Add(1)
		go func() {
			defer side.Done()
			_, _ = io.Copy(io.Discard, sess.Resize)
		}()
	}
	var why string
	for {
		p, ok, reason := wt.next()
		if !ok {
			why = reason
			break
		}
		if _, err := sess.Stdout.Write(p); err != nil {
			wt.stop("write failed: " + err.Error()) // the first reason stays
		}
	}
	stop()
	stopDrop()
	l.removeWatcher(wt)
	switch {
	case ws.Err() != nil || ws.Context().Err() != nil || why == whyTooSlow:
		_ = ws.Abort(why)
	default:
		st := status.NewSuccess()
		if why != "" {
			st = status.NewInternalError(errors.New(why))
		} else if code := l.s.exit(); code != 0 {
			st = status.NewExit(code)
		}
		guard := time.AfterFunc(statusWriteTimeout, func() { _ = ws.Abort("status write timed out") })
		_ = sess.WriteStatus(st)
		guard.Stop()
		_ = ws.Close()
	}
	side.Wait()
	if why == "" {
		why = "the session ended"
	} else {
		l.notify(u.Name + " stopped watching")
	}
	end := l.watchEvent(audit.StageLeave, r, verb)
	end.Reason = why
	g.auditSessions(end, u)
	l.marker(u.Name + " left")
}

// exit is the session's exit code as far as the gateway saw it (0 when
// it did not).
func (s *session) exit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exitCode == nil {
		return 0
	}
	return *s.exitCode
}
