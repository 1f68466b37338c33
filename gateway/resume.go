package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/internal/replay"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// Resumable sessions (protocol.ResumeV5, whose doc has the wire): a
// WebSocket exec or attach whose client offers the extension is always
// terminated here and bridged, on either upstream wire, so that the
// upstream session can outlive the client's connection. The gateway keeps
// every output byte (and the status) the client has not acknowledged, up to
// resumeOutputBytes per stream: beyond that it stops reading the upstream,
// whose flow control then stalls the process, so nothing is ever dropped.
// A connection that fails (no clean close) parks the session for
// Options.SessionResumeGrace; the same user reattaches with the session's
// id and the offsets it received, and the output resumes from there. The
// status counts as output: the session is over only once the client's
// connection closed cleanly after it, or the grace ran out.
const (
	resumeOutputBytes = protocol.ResumeOutputWindow // per output stream, not yet acknowledged
	// resumeStdinBytes bounds the stdin received and not yet written
	// upstream. A client keeps at most protocol.ResumeStdinWindow bytes
	// unacknowledged and acknowledgements count what was written, so a
	// client that keeps to the window never fills this queue (twice the
	// window: after a resume the client counts its window from what was
	// received, not written) and the client's connection is always read:
	// were it not, the client's output acknowledgements, behind its stdin,
	// could not arrive, and a process writing as much as it reads (cat)
	// would stall the session for good.
	resumeStdinBytes = 2 * protocol.ResumeStdinWindow
	resumeCtlLine    = 256
)

// errSessionOver stops the upstream's output copies of a session that ended.
var errSessionOver = errors.New("the session is over")

// outBuf is one output stream's bytes not yet acknowledged by the client.
type outBuf struct {
	replay.Buffer
	on   bool // the session has this stream
	done bool // the stream ended upstream: Total is final
	// sent is the end of the bytes handed to a connection's write so far:
	// no client can have received, or acknowledge, more.
	sent int64
}

// outNames name the output streams in messages.
var outNames = [...]string{"stdout", "stderr", "error"}

// Output stream indexes of a resumable session.
const (
	outStdout = iota
	outStderr
	outError
)

// resumable is one resumable session, from its first client connection to
// its end. Its state is guarded by mu; cond wakes every waiter on any change.
type resumable struct {
	g     *Gateway
	s     *session
	id    string
	up    *stream.Session
	rec   *audit.Recording
	want  protocol.Want
	grace time.Duration

	resumeMu sync.Mutex // one reattach at a time, and none after the end

	mu       sync.Mutex
	cond     *sync.Cond
	outs     [3]outBuf
	stdinQ   replay.Buffer
	stdinN   int64 // stdin bytes received from the client
	stdinW   int64 // stdin bytes written upstream: what acknowledgements say
	stdinEOF bool
	att      *attachment // the client's connection; nil while parked
	park     *time.Timer
	overWhy  string        // why the session ended early; "" if it did not
	over     chan struct{} // closed when the session is over
	isOver   bool
	upDone   bool // the upstream's outputs and status ended
	size     resize.Size
	sizeSet  bool // size is new, for writeResize

	side sync.WaitGroup // resize readers and the stdin writer
	lim  *rate
}

// attachment is one client connection of a resumable session.
type attachment struct {
	conn  *websocket.Conn
	sess  *stream.Session
	start protocol.Offsets
	gone  bool // detached: its goroutines stop; guarded by resumable.mu
	core  sync.WaitGroup
}

// newResumeID is 128 random bits: the id is the session's only handle.
func newResumeID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// offersResume: the client's first Sec-WebSocket-Protocol line names the
// resume extension.
func offersResume(r *http.Request) bool {
	for _, p := range protocol.SplitHeader([]string{r.Header.Get(protocol.HeaderWebSocketProtocol)}) {
		if p == protocol.ResumeV5 {
			return true
		}
	}
	return false
}

// resumeID is the session a request resumes: the header's, else (from a
// browser, which cannot set headers) the query's; "" for a new session.
func resumeID(r *http.Request) string {
	if id := r.Header.Get(protocol.HeaderResume); id != "" {
		return id
	}
	return r.URL.Query().Get(protocol.QueryResume)
}

// resumeOffsets is what the client of a resume received, from the header
// or, with no header, the query.
func resumeOffsets(r *http.Request) (protocol.Offsets, error) {
	if v := r.Header.Get(protocol.HeaderResumeOffsets); v != "" || r.Header.Get(protocol.HeaderResume) != "" {
		return protocol.ParseOffsets(v)
	}
	return protocol.ParseOffsets(r.URL.Query().Get(protocol.QueryResumeOffsets))
}

// resumeRegistry holds the live resumable sessions by id.
type resumeRegistry struct {
	mu sync.Mutex
	m  map[string]*resumable
}

func (rr *resumeRegistry) add(r *resumable) {
	rr.mu.Lock()
	if rr.m == nil {
		rr.m = map[string]*resumable{}
	}
	rr.m[r.id] = r
	rr.mu.Unlock()
}

func (rr *resumeRegistry) remove(id string) {
	rr.mu.Lock()
	delete(rr.m, id)
	rr.mu.Unlock()
}

func (rr *resumeRegistry) get(id string) *resumable {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.m[id]
}

// serveResumable runs a new resumable session: the upstream is dialled
// first, so its refusal reaches the client before any upgrade (as
// translate), then the client's WebSocket is accepted with the session id.
func (g *Gateway) serveResumable(w http.ResponseWriter, r *http.Request, s *session) outcome {
	up, closeUp, resp, err := g.dialUpstreamSession(r, s)
	if err != nil {
		return g.refuseAsUpstream(w, s, "resume-dial", resp, err)
	}
	defer closeUp()
	rs := &resumable{g: g, s: s, id: g.replicaPrefix() + newResumeID(), up: up, want: s.want(), grace: g.opts.SessionResumeGrace,
		over: make(chan struct{}), lim: newRate(g.opts.MaxResizePerSecond)}
	rs.cond = sync.NewCond(&rs.mu)
	w.Header().Set(protocol.HeaderSession, rs.id)
	ws, err := g.acceptResume(w, r)
	if err != nil {
		s.fail("accept websocket: " + err.Error())
		return outcomeRefused
	}
	rs.rec = g.startRecording(s)
	if rs.rec != nil {
		defer rs.rec.Close()
	}
	return rs.run(ws)
}

func (g *Gateway) acceptResume(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	return websocket.Accept(w, r, &websocket.AcceptOptions{
		Versions: []protocol.Version{protocol.ResumeVersion}, Channels: protocol.ResumeChannels,
		ReadLimit: g.opts.MaxMessageBytes, IdleTimeout: g.opts.IdleTimeout,
		KeepAlive: g.opts.KeepAlive, OnKeepAlive: g.metrics.keepAlives.Inc,
		InsecureSkipOriginCheck: true, // checked before the session began
		Logger:                  g.log,
	})
}

// dialUpstreamSession opens the upstream's side of a bridged session on
// the upstream's wire: SPDY when it speaks only SPDY; WebSocket v5 when it
// speaks WebSocket; with the wire unset, WebSocket v5 first and SPDY when
// the upstream refuses that upgrade (an API server before 1.30 passes
// WebSocket on to a kubelet that knows v4 at most), as kubectl falls back.
// A refusal of the caller (401, 403) or of the pod (404) is not a reason
// to try again and is returned as it is. close ends the upstream
// connection.
func (g *Gateway) dialUpstreamSession(r *http.Request, s *session) (up *stream.Session, close func(), resp *http.Response, err error) {
	if ss := g.opts.InProcessSessions; ss != nil {
		return g.inProcessSession(ss, r, s)
	}
	if g.opts.UpstreamWire == protocol.SPDY {
		return g.dialSPDYSession(r, s)
	}
	up, close, resp, err = g.dialWebSocketSession(r, s)
	if err == nil || g.opts.UpstreamWire == protocol.WebSocket || resp == nil {
		return up, close, resp, err
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return up, close, resp, err
	}
	g.log.Info("upstream refused WebSocket v5 for a resumable session; using SPDY", "status", resp.Status, "err", err)
	s.setWireOut(protocol.SPDY)
	return g.dialSPDYSession(r, s)
}

// inProcessSession is dialUpstreamSession for a node in this process
// (Options.InProcessSessions): the request, with the headers the upstream
// would see, goes to the node; its refusal comes back as the response an
// upstream would have written.
func (g *Gateway) inProcessSession(ss SessionServer, r *http.Request, s *session) (*stream.Session, func(), *http.Response, error) {
	ur := r.Clone(r.Context())
	ur.Header = g.upstreamHeader(r, s.user)
	up, err := ss.ServeSession(ur)
	if err != nil {
		var he *status.HTTPError
		if !errors.As(err, &he) {
			return nil, nil, nil, fmt.Errorf("in-process session: %w", err)
		}
		return nil, nil, status.Response(he.Status), err
	}
	return up, func() { _ = up.Conn.Close() }, nil, nil
}

func (g *Gateway) dialSPDYSession(r *http.Request, s *session) (*stream.Session, func(), *http.Response, error) {
	hdr := g.upstreamHeader(r, s.user)
	for _, k := range []string{"Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions", protocol.HeaderResume, protocol.HeaderResumeOffsets} {
		hdr.Del(k)
	}
	target := g.upstreamURL(r.URL.Path, r.URL.RawQuery)
	sc, resp, err := spdy.Dial(r.Context(), target.String(), &spdy.DialOptions{
		Protocols: protocol.SPDYClientOffer, Header: hdr, TLSConfig: g.opts.UpstreamTLS,
		DialContext: g.opts.DialContext, Logger: g.log,
	})
	if err != nil {
		return nil, nil, resp, err
	}
	up, err := sc.OpenSession(r.Context(), s.want())
	if err != nil {
		_ = sc.Close()
		return nil, nil, nil, fmt.Errorf("open upstream streams: %w", err)
	}
	return up, func() { _ = sc.Close() }, resp, nil
}

func (g *Gateway) dialWebSocketSession(r *http.Request, s *session) (*stream.Session, func(), *http.Response, error) {
	hdr, hc, target := g.wsUpstream(r, s)
	for _, k := range []string{"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions", protocol.HeaderResume, protocol.HeaderResumeOffsets} {
		hdr.Del(k)
	}
	ws, resp, err := websocket.Dial(r.Context(), target.String(), &websocket.DialOptions{Header: hdr, HTTPClient: hc,
		ReadLimit: g.opts.MaxMessageBytes, Logger: g.log})
	if err != nil {
		hc.CloseIdleConnections()
		return nil, nil, resp, err
	}
	return ws.ClientSession(s.want()), func() { _ = ws.Close(); hc.CloseIdleConnections() }, resp, nil
}

// run carries the session to its end and returns its outcome. Every
// goroutine it or an attachment started has ended when it returns.
func (r *resumable) run(first *websocket.Conn) outcome {
	g, s, up := r.g, r.s, r.up
	g.resumes.add(r)
	defer func() {
		// A session the client took to its end stays for the grace: a
		// client whose close was lost resumes into it and is closed.
		if r.finished() {
			time.AfterFunc(r.grace, func() { g.resumes.remove(r.id) })
		} else {
			g.resumes.remove(r.id)
		}
	}()
	s.onCut(func(reason string) {
		_ = up.Conn.Abort(reason)
		r.end("the gateway ended the session: " + reason)
	})
	clientHas := map[string]bool{}
	for _, st := range protocol.ResumeVersion.Streams(r.want) {
		clientHas[st.Type] = true
	}
	r.outs[outStdout].on = clientHas[protocol.StreamStdout]
	r.outs[outStderr].on = clientHas[protocol.StreamStderr]
	r.outs[outError].on = true
	var ups sync.WaitGroup
	// The owner's notices (who watches) go into the terminal's output, or
	// stderr without a tty, as on the bridged path: counted, kept and
	// resumed like the process's own bytes.
	noticeOn := outStderr
	if s.tty {
		noticeOn = outStdout
	}
	for i, src := range []stream.Stream{up.Stdout, up.Stderr} {
		switch {
		case !r.outs[i].on:
		case src == nil:
			r.outs[i].done = true
		default:
			var out io.Writer = &outWriter{r: r, i: i}
			stop := func() {}
			if i == noticeOn {
				out, stop = s.live.startNotices(out, s.tty)
			}
			ups.Add(1)
			go r.copyUp(&ups, i, src, out, stop)
		}
	}
	var stb []byte
	var stErr error
	ups.Add(1)
	go func() {
		defer ups.Done()
		stb, stErr = up.ReadStatus()
	}()
	if up.Stdin != nil && clientHas[protocol.StreamStdin] {
		r.side.Add(1)
		go r.writeStdin()
	}
	if up.Resize != nil && clientHas[protocol.StreamResize] {
		r.side.Add(1)
		go r.writeResize()
	}
	upDone := make(chan struct{})
	go func() {
		ups.Wait()
		close(upDone)
	}()
	r.attach(first, protocol.Offsets{}, true)

	var cause error
	select {
	case <-upDone:
		var st *status.Status
		switch {
		case s.cutReason() != "":
			cause = errors.New("the gateway ended the session: " + s.cutReason())
			st = status.NewInternalError(cause)
		case stErr != nil:
			cause = stErr
			st = status.NewInternalError(cause)
		default:
			st, cause = reencode(up, stb)
			// Unlike the API server's translator, which makes every
			// other failure an InternalError, porthole's own clients get
			// the upstream's Status as it is: a node's ServiceUnavailable
			// as it shuts down tells the web terminal to offer a
			// reconnect.
			var se *status.Error
			if _, exit := status.IsExit(cause); !exit && errors.As(cause, &se) && se.Status != nil {
				st = se.Status
			}
		}
		r.mu.Lock()
		r.upDone = true
		e := &r.outs[outError]
		e.Append((&stream.Session{Version: protocol.ResumeVersion}).EncodeStatus(st))
		e.done = true
		r.cond.Broadcast()
		r.mu.Unlock()
		<-r.over
	case <-r.over:
		_ = up.Conn.Abort("client went away")
		<-upDone
	}
	_ = up.Conn.Close()

	r.resumeMu.Lock()
	r.mu.Lock()
	a := r.att
	r.mu.Unlock()
	if a != nil {
		_ = a.conn.Abort("session over")
		a.core.Wait()
	}
	r.resumeMu.Unlock()
	r.side.Wait()
	return r.outcome(cause)
}

// outcome is the session's outcome, as bridge.finish judges it.
func (r *resumable) outcome(cause error) outcome {
	s := r.s
	r.mu.Lock()
	upDone, why := r.upDone, r.overWhy
	r.mu.Unlock()
	out := outcomeOK
	switch {
	case s.cutReason() != "":
		s.fail(s.cutReason())
		return outcomeCut
	case !upDone:
		s.fail(why)
		return outcomeError
	case cause != nil:
		s.fail(cause.Error())
		out = outcomeError
	}
	if code, ok := status.IsExit(cause); ok {
		s.setExit(code)
		out = outcomeOK
	} else if cause == nil && s.verb == "exec" {
		s.setExit(0)
	}
	return out
}

// finished: the client took every byte of the session.
func (r *resumable) finished() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.isOver && r.overWhy == "" && r.allAcked()
}

// end marks the session over; why says why when it ended early ("" when
// the client took everything).
func (r *resumable) end(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isOver {
		return
	}
	r.isOver, r.overWhy = true, why
	if r.park != nil {
		r.park.Stop()
	}
	close(r.over)
	r.cond.Broadcast()
}

// copyUp copies upstream output stream i into its buffer through out (and
// stdout to the recording and watchers); then, before the stream counts as
// complete, stop ends what else writes to out (the owner's notices).
func (r *resumable) copyUp(wg *sync.WaitGroup, i int, src stream.Stream, out io.Writer, stop func()) {
	defer wg.Done()
	var w io.Writer = &countWriter{w: out, n: &r.s.bytesOut}
	if t := r.s.tap(r.rec); i == outStdout && t != nil {
		w = io.MultiWriter(w, t)
	}
	if _, err := io.Copy(w, src); err != nil {
		_ = src.Reset()
	}
	stop()
	r.mu.Lock()
	r.outs[i].done = true
	r.cond.Broadcast()
	r.mu.Unlock()
}

// outWriter appends to an output buffer, waiting while it is full
// (backpressure on the upstream).
type outWriter struct {
	r *resumable
	i int
}

func (w *outWriter) Write(p []byte) (int, error) {
	r := w.r
	r.mu.Lock()
	defer r.mu.Unlock()
	o := &r.outs[w.i]
	n := 0
	for len(p) > 0 {
		for o.Len() >= resumeOutputBytes && !r.isOver {
			r.cond.Wait()
		}
		if r.isOver {
			return n, errSessionOver
		}
		k := o.Append(p[:min(len(p), resumeOutputBytes-o.Len())])
		n, p = n+k, p[k:]
		r.cond.Broadcast()
	}
	return n, nil
}

// writeStdin writes the stdin received from the client's connections
// upstream, and ends it once the client's stdin ended.
func (r *resumable) writeStdin() {
	defer r.side.Done()
	dst := r.s.stdinSink(r.up.Stdin) // joiners write here too
	for {
		r.mu.Lock()
		for r.stdinQ.Len() == 0 && !r.stdinEOF && !r.isOver {
			r.cond.Wait()
		}
		if r.isOver {
			r.mu.Unlock()
			return
		}
		if r.stdinQ.Len() == 0 {
			r.mu.Unlock()
			_ = dst.CloseWrite()
			return
		}
		chunk, loan := r.stdinQ.Lend(r.stdinQ.Base()) // untouched until returned: see replay.Buffer
		r.mu.Unlock()
		n, err := dst.Write(chunk)
		r.s.bytesIn.Add(int64(n))
		r.mu.Lock()
		r.stdinQ.Return(loan)
		if n > 0 {
			r.stdinQ.Trim(r.stdinQ.Base() + int64(n))
		}
		r.stdinW += int64(n)
		r.cond.Broadcast()
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// attach serves the session on conn, whose client received start.
func (r *resumable) attach(conn *websocket.Conn, start protocol.Offsets, first bool) {
	a := &attachment{conn: conn, sess: conn.ServerSession(r.want), start: start}
	r.mu.Lock()
	if r.isOver {
		r.mu.Unlock()
		_ = conn.Abort("session over")
		return
	}
	r.att = a
	if r.park != nil {
		r.park.Stop()
		r.park = nil
	}
	r.mu.Unlock()
	if first {
		// The "connected" message (PROTOCOL.md 3.5).
		_, _ = a.sess.Connected.Write(nil)
	}
	var pumps sync.WaitGroup
	for i, dst := range []stream.Stream{a.sess.Stdout, a.sess.Stderr, a.sess.Error} {
		if dst == nil || !r.outs[i].on {
			continue
		}
		pumps.Add(1)
		a.core.Add(1)
		go r.pump(a, &pumps, i, dst)
	}
	ctl := conn.Channel(protocol.ResumeControl)
	a.core.Add(3)
	go r.readAcks(a, ctl)
	go r.sendStdinAcks(a, ctl)
	go r.watch(a, &pumps)
	if a.sess.Stdin != nil {
		a.core.Add(1)
		go r.readStdin(a)
	}
	if a.sess.Resize != nil {
		r.side.Add(1)
		go r.readResize(a)
	}
}

func offsetOf(o protocol.Offsets, i int) int64 {
	return [...]int64{o.Stdout, o.Stderr, o.Error}[i]
}

// pump sends output stream i to the client from its start offset until the
// stream is complete or the attachment is gone.
func (r *resumable) pump(a *attachment, pumps *sync.WaitGroup, i int, dst stream.Stream) {
	defer a.core.Done()
	defer pumps.Done()
	sent := offsetOf(a.start, i)
	o := &r.outs[i]
	for {
		r.mu.Lock()
		// The client may have acknowledged bytes past sent that an earlier
		// attachment's write was still delivering as it reattached: they
		// are not kept any more, and not needed.
		for sent = max(sent, o.Base()); !a.gone && sent >= o.Total() && !o.done; sent = max(sent, o.Base()) {
			r.cond.Wait()
		}
		if a.gone || sent >= o.Total() {
			r.mu.Unlock()
			return
		}
		// The client may acknowledge these bytes while the write is still
		// under way (it received them); the loan keeps their chunk from
		// being reused until the write is done with it.
		chunk, loan := o.Lend(sent)
		o.sent = max(o.sent, sent+int64(len(chunk)))
		r.mu.Unlock()
		n, err := dst.Write(chunk)
		r.mu.Lock()
		o.Return(loan)
		r.mu.Unlock()
		sent += int64(n)
		if err != nil {
			_ = a.conn.Abort("write failed")
			return
		}
	}
}

// readAcks reads the client's acknowledgements and drops what they cover.
func (r *resumable) readAcks(a *attachment, ctl stream.Stream) {
	defer a.core.Done()
	br := bufio.NewReaderSize(ctl, resumeCtlLine)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				_ = a.conn.Abort("resume control line too long")
			}
			return
		}
		off, err := protocol.ParseOffsets(string(line[:len(line)-1]))
		if err != nil {
			_ = a.conn.Abort(err.Error())
			return
		}
		r.mu.Lock()
		err = r.ack(off)
		r.mu.Unlock()
		if err != nil {
			_ = a.conn.Abort(err.Error())
			return
		}
	}
}

// ack drops the output the client says it received; r.mu is held. An
// acknowledgement of bytes never sent is refused, and changes nothing: it
// would drop output not yet delivered.
func (r *resumable) ack(off protocol.Offsets) error {
	if err := r.checkSent(off); err != nil {
		return err
	}
	for i := range r.outs {
		o := &r.outs[i]
		if n := offsetOf(off, i); n > o.Base() && n <= o.Total() {
			o.Trim(n)
		}
	}
	r.cond.Broadcast()
	return nil
}

// checkSent refuses offsets past what was sent of any output stream; r.mu
// is held.
func (r *resumable) checkSent(off protocol.Offsets) error {
	for i := range r.outs {
		o := &r.outs[i]
		if n := offsetOf(off, i); n > o.sent && n > o.Base() {
			return fmt.Errorf("acknowledged %s up to %d, past the %d bytes sent", outNames[i], n, o.sent)
		}
	}
	return nil
}

// sendStdinAcks tells the client the session's id and how much of its
// stdin arrived (as the 101's HeaderStdinOffset does, for browsers, which
// cannot read it), then, each time more is written upstream, how much: the
// client's window (protocol.ResumeStdinWindow) moves with them.
func (r *resumable) sendStdinAcks(a *attachment, ctl stream.Stream) {
	defer a.core.Done()
	r.mu.Lock()
	received := r.stdinN
	last := r.stdinW
	r.mu.Unlock()
	hello := protocol.SessionLinePrefix + r.id + "\n" + protocol.FormatOffsets(protocol.Offsets{Stdin: received}) + "\n"
	if _, err := ctl.Write([]byte(hello)); err != nil {
		return
	}
	r.mu.Lock()
	for {
		for !a.gone && r.stdinW == last {
			r.cond.Wait()
		}
		if a.gone {
			r.mu.Unlock()
			return
		}
		last = r.stdinW
		r.mu.Unlock()
		if _, err := ctl.Write([]byte(protocol.FormatOffsets(protocol.Offsets{Stdin: last}) + "\n")); err != nil {
			return
		}
		r.mu.Lock()
	}
}

// readStdin queues the client's stdin, counting what arrived; the close
// signal ends it (a cut is no end: the client sends the signal again).
func (r *resumable) readStdin(a *attachment) {
	defer a.core.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := a.sess.Stdin.Read(buf)
		p := buf[:n]
		r.mu.Lock()
		for len(p) > 0 {
			for !a.gone && !r.isOver && r.stdinQ.Len() >= resumeStdinBytes {
				r.cond.Wait()
			}
			if a.gone || r.isOver {
				r.mu.Unlock()
				return
			}
			k := min(len(p), resumeStdinBytes-r.stdinQ.Len())
			if !r.stdinEOF {
				r.stdinQ.Append(p[:k])
			}
			r.stdinN += int64(k)
			p = p[k:]
			r.cond.Broadcast()
		}
		if err != nil && errors.Is(err, io.EOF) && a.conn.Err() == nil {
			r.stdinEOF = true
			r.cond.Broadcast()
		}
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// readResize takes terminal sizes (rate-limited, recorded) until the
// connection ends and leaves the latest for writeResize: a size is never
// written upstream from here, so an upstream that stopped reading its
// resize stream (the process ended) cannot stall the client's connection,
// whose acknowledgements then could not arrive.
func (r *resumable) readResize(a *attachment) {
	defer r.side.Done()
	dec := resize.NewDecoder(a.sess.Resize)
	for {
		sz, err := dec.Decode()
		if err != nil {
			return
		}
		if !r.lim.allow() {
			r.s.cut("resize flood: more than the allowed resize messages per second")
			return
		}
		if r.rec != nil {
			r.rec.Resize(int(sz.Width), int(sz.Height))
		}
		r.s.live.resize(int(sz.Width), int(sz.Height))
		r.mu.Lock()
		r.size, r.sizeSet = sz, true
		r.cond.Broadcast()
		r.mu.Unlock()
	}
}

// writeResize writes the latest terminal size upstream as it changes.
func (r *resumable) writeResize() {
	defer r.side.Done()
	var buf []byte
	for {
		r.mu.Lock()
		for !r.sizeSet && !r.isOver {
			r.cond.Wait()
		}
		if r.isOver {
			r.mu.Unlock()
			return
		}
		sz := r.size
		r.sizeSet = false
		r.mu.Unlock()
		buf = resize.Append(buf[:0], sz)
		if _, err := r.up.Resize.Write(buf); err != nil {
			return
		}
	}
}

// watch ends the attachment. Once every output is complete and sent, it
// waits for the client to acknowledge all of it, then ends the session
// and closes the connection gracefully: the client has every byte, and if
// the close is lost it resumes into the finished session, which closes
// at once (reattach). A connection that fails first parks the session for
// the grace period; a client that closes cleanly before the end has left,
// which ends the session as a lost client does.
func (r *resumable) watch(a *attachment, pumps *sync.WaitGroup) {
	defer a.core.Done()
	pumped := make(chan struct{})
	go func() {
		pumps.Wait()
		close(pumped)
	}()
	select {
	case <-pumped:
		if r.awaitAcks(a) {
			r.detach(a)
			r.end("")
			_ = a.conn.Close()
			return
		}
	case <-a.conn.Done():
	}
	// Whether the client closed cleanly, read before Abort records its
	// own reason.
	clean := false
	select {
	case <-a.conn.Done():
		clean = a.conn.Err() == nil
	default:
	}
	r.detach(a)
	_ = a.conn.Abort("detached")
	<-pumped
	if clean {
		r.end("client closed the connection")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isOver || r.att != nil {
		return
	}
	r.park = time.AfterFunc(r.grace, func() { r.end("client went away; its resume grace expired") })
	r.g.log.Info("session parked for resume", "id", r.s.id, "user", r.s.user.Name, "grace", r.grace, "err", a.conn.Err())
}

// awaitAcks reports whether the client acknowledged every byte of every
// output, waiting while its connection lives.
func (r *resumable) awaitAcks(a *attachment) bool {
	stop := context.AfterFunc(a.conn.Context(), func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !a.gone && !r.isOver && a.conn.Context().Err() == nil && !r.allAcked() {
		r.cond.Wait()
	}
	return !a.gone && r.allAcked()
}

// allAcked: every output ended and the client acknowledged all of it;
// r.mu is held.
func (r *resumable) allAcked() bool {
	for i := range r.outs {
		if o := &r.outs[i]; o.on && (!o.done || o.Len() > 0) {
			return false
		}
	}
	return true
}

func (r *resumable) detach(a *attachment) {
	r.mu.Lock()
	a.gone = true
	if r.att == a {
		r.att = nil
	}
	r.cond.Broadcast()
	r.mu.Unlock()
}

// resume serves a request to reattach to session id: refused unless the
// session exists here, belongs to the same user and is the same request.
func (g *Gateway) resume(w http.ResponseWriter, r *http.Request, s *session, id string) {
	rs := g.resumes.get(id)
	switch {
	case rs == nil || g.opts.SessionResumeGrace <= 0:
		g.refuse(w, r, s, status.NewHTTPError(http.StatusNotFound, "NotFound", "session "+strconv.Quote(id)+" not found: it ended or its resume grace expired", nil))
		return
	case s.user == nil || rs.s.user == nil || rs.s.user.Name != s.user.Name:
		g.refuse(w, r, s, status.NewHTTPError(http.StatusForbidden, "Forbidden", "session "+strconv.Quote(id)+" belongs to another user", nil))
		return
	case rs.s.verb != s.verb || rs.s.namespace != s.namespace || rs.s.pod != s.pod || rs.s.container != s.container:
		g.refuse(w, r, s, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "session "+strconv.Quote(id)+" is not a "+s.verb+" into this pod", nil))
		return
	case s.wireIn != protocol.WebSocket || !offersResume(r):
		g.refuse(w, r, s, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "a resume needs a WebSocket offering "+protocol.ResumeV5, nil))
		return
	}
	off, err := resumeOffsets(r)
	if err != nil {
		g.refuse(w, r, s, status.NewHTTPError(http.StatusBadRequest, "BadRequest", err.Error(), nil))
		return
	}
	rs.reattach(w, r, s, off)
}

// reattach moves the session to the request's connection: the previous
// one, if any, is ended first, so the stdin count answered is final.
func (r *resumable) reattach(w http.ResponseWriter, req *http.Request, s *session, off protocol.Offsets) {
	g := r.g
	r.resumeMu.Lock()
	defer r.resumeMu.Unlock()
	r.mu.Lock()
	old := r.att
	r.mu.Unlock()
	if old != nil {
		_ = old.conn.Abort("the session was resumed on another connection")
		old.core.Wait()
	}
	if r.finished() {
		// Its client has every byte but missed the close: close now.
		r.mu.Lock()
		stdinN := r.stdinN
		r.mu.Unlock()
		w.Header().Set(protocol.HeaderSession, r.id)
		w.Header().Set(protocol.HeaderStdinOffset, strconv.FormatInt(stdinN, 10))
		if ws, err := g.acceptResume(w, req); err == nil {
			_ = ws.Close()
		}
		return
	}
	r.mu.Lock()
	var herr *status.HTTPError
	if r.isOver {
		herr = status.NewHTTPError(http.StatusNotFound, "NotFound", "session "+strconv.Quote(r.id)+" not found: it ended", nil)
	}
	for i := range r.outs {
		o := &r.outs[i]
		if n := offsetOf(off, i); herr == nil && o.on && (n < o.Base() || n > o.Total()) {
			herr = status.NewHTTPError(http.StatusBadRequest, "BadRequest", fmt.Sprintf("resume offset %d of %s is outside the kept output [%d, %d]", n, outNames[i], o.Base(), o.Total()), nil)
		}
	}
	if herr == nil {
		if err := r.ack(off); err != nil {
			herr = status.NewHTTPError(http.StatusBadRequest, "BadRequest", "resume offsets: "+err.Error(), nil)
		}
	}
	stdinN := r.stdinN
	r.mu.Unlock()
	if herr != nil {
		g.refuse(w, req, s, herr)
		return
	}
	w.Header().Set(protocol.HeaderSession, r.id)
	w.Header().Set(protocol.HeaderStdinOffset, strconv.FormatInt(stdinN, 10))
	ws, err := g.acceptResume(w, req)
	if err != nil {
		g.log.Info("resume: accept websocket failed", "id", r.s.id, "err", err)
		return
	}
	ev := r.s.event(audit.StageResume, "", "")
	ev.Source = s.source
	r.s.emit(ev)
	g.log.Info("session resumed", "id", r.s.id, "user", s.user.Name, "source", s.source, "offsets", protocol.FormatOffsets(off), "stdin", stdinN)
	r.attach(ws, off, false)
}
