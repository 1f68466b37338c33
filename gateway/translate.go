package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

const maxStatusBytes = 64 << 10

// translation is one WebSocket v5 session carried to a SPDY upstream as the
// API server's stream translator does (PROTOCOL.md 8): the WebSocket is
// accepted first, then the gateway is a SPDY client upstream with
// client-go's stream order; v5 close of stdin becomes FIN; the upstream's
// status is decoded and re-encoded (NonZeroExitCode, InternalError,
// Success).
type translation struct {
	g   *Gateway
	s   *session
	ws  *websocket.Conn
	sc  *spdy.Conn
	rec *audit.Recording

	mu        sync.Mutex
	cutSC     *spdy.Conn  // the upstream, once dialled, for cut
	lastGuard *time.Timer // ends the WebSocket if a cut session cannot finish
}

// cut ends the upstream so the session finishes with an InternalError
// status naming reason; if the client does not take that status within the
// status deadline, the WebSocket is aborted.
func (t *translation) cut(reason string) {
	t.mu.Lock()
	sc := t.cutSC
	if t.lastGuard == nil {
		t.lastGuard = time.AfterFunc(statusWriteTimeout, func() { t.ws.Abort(reason) })
	}
	t.mu.Unlock()
	if sc != nil {
		sc.Abort(reason)
	}
}

func (t *translation) stopGuard() {
	t.mu.Lock()
	if t.lastGuard != nil {
		t.lastGuard.Stop()
	}
	t.mu.Unlock()
}

// translate runs a translated session and returns its outcome. It dials
// the upstream first, so a refusal (403, 404, a pod not running) reaches
// the client as the upstream gave it, status and body, before any upgrade,
// as the API server answers; only then does it accept the WebSocket, which
// it owns from then on, and it joins every goroutine it starts.
func (g *Gateway) translate(w http.ResponseWriter, r *http.Request, s *session) string {
	hdr := g.upstreamHeader(r, s.user)
	for _, k := range []string{"Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		hdr.Del(k)
	}
	target := g.upstreamURL(r.URL.Path, r.URL.RawQuery)
	sc, resp, err := spdy.Dial(r.Context(), target.String(), &spdy.DialOptions{
		Protocols: protocol.SPDYClientOffer, Header: hdr, TLSConfig: g.opts.UpstreamTLS,
		DialContext: g.opts.DialContext, Logger: g.log,
	})
	if err != nil {
		return g.refuseAsUpstream(w, s, "translate-dial", resp, err)
	}
	defer sc.Close()
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Versions: []protocol.Version{v5}, ReadLimit: g.opts.MaxMessageBytes, IdleTimeout: g.opts.IdleTimeout,
		InsecureSkipOriginCheck: true, // checked before the session began
		Logger:                  g.log,
	})
	if err != nil {
		s.fail("accept websocket: " + err.Error())
		return "refused"
	}
	if protocol.DropsEarlyMessages(r.UserAgent()) {
		protocol.HoldEarlyMessages(ws.Context())
	}
	t := &translation{g: g, s: s, ws: ws}
	return t.run(r, sc)
}

// refuseAsUpstream answers a client whose upstream refused or failed the
// upgrade, before any upgrade of the client: a 4xx or 5xx refusal is
// relayed (relayRefusal: a Status document, which kubectl prints as
// "Error from server (Forbidden): ..."); any other failure is the API
// server's 500 "error dialing backend". The transports' dials keep the
// refusal's body in their UpgradeError; a plain dial leaves it in resp.
func (g *Gateway) refuseAsUpstream(w http.ResponseWriter, s *session, cause string, resp *http.Response, err error) string {
	if resp == nil || resp.StatusCode < 400 || resp.StatusCode > 599 {
		return g.upstreamFailed(w, s, cause, err)
	}
	var body io.Reader = resp.Body
	var se *spdy.UpgradeError
	var we *websocket.UpgradeError
	switch {
	case errors.As(err, &se):
		body = bytes.NewReader(se.Body)
	case errors.As(err, &we):
		body = bytes.NewReader(we.Body)
	case body == nil:
		body = http.NoBody
	}
	g.relayRefusal(w, s, cause, resp, body)
	return "refused"
}

func (t *translation) run(r *http.Request, sc *spdy.Conn) string {
	s, ws := t.s, t.ws
	first := channel.Error
	switch {
	case s.stdout:
		first = channel.Stdout
	case s.stderr:
		first = channel.Stderr
	}
	_, _ = ws.Channel(int(first)).Write(nil)
	for _, ch := range []int{channel.Stdout, channel.Stderr, channel.Error} {
		ws.Channel(ch).CloseRead()
	}
	if !s.stdin {
		ws.Channel(channel.Stdin).CloseRead()
	}
	if !s.tty {
		ws.Channel(channel.Resize).CloseRead()
	}
	s.onCut(t.cut)
	defer t.stopGuard()
	if t.rec = t.g.startRecording(s); t.rec != nil {
		defer t.rec.Close()
	}
	t.sc = sc
	t.mu.Lock()
	t.cutSC = sc
	t.mu.Unlock()
	if why := t.cutReason(); why != "" {
		sc.Abort(why)
	}
	return t.stream(r.Context())
}

// stream opens the upstream streams in client-go's order and copies.
func (t *translation) stream(ctx context.Context) string {
	s, ws, sc := t.s, t.ws, t.sc
	version, ok := protocol.Lookup(protocol.SPDYVersions, sc.Protocol())
	if sc.Protocol() == protocol.V5 {
		version, ok = protocol.Version{Name: protocol.V5, StatusJSON: true, Resize: true}, true
	}
	if !ok {
		err := errors.New("upstream chose unoffered protocol " + sc.Protocol())
		return t.finish(status.NewInternalError(err), err)
	}
	open := func(typ string) (*spdy.Stream, error) {
		return sc.Open(ctx, http.Header{protocol.HeaderStreamType: {typ}})
	}
	var errStream, stdin, stdout, stderr, rsz *spdy.Stream
	var err error
	errStream, err = open(protocol.StreamError)
	if err == nil && s.stdin {
		stdin, err = open(protocol.StreamStdin)
	}
	if err == nil && s.stdout {
		stdout, err = open(protocol.StreamStdout)
	}
	if err == nil && s.stderr && !s.tty {
		stderr, err = open(protocol.StreamStderr)
	}
	if err == nil && s.tty && version.Resize {
		rsz, err = open(protocol.StreamResize)
	}
	if err != nil {
		return t.finish(status.NewInternalError(err), err)
	}

	var inputs, outputs sync.WaitGroup
	var statusBytes []byte
	var statusErr error
	outputs.Add(1)
	go t.readStatus(&outputs, errStream, &statusBytes, &statusErr)
	if stdout != nil {
		outputs.Add(1)
		go t.copyOut(&outputs, channel.Stdout, stdout)
	}
	if stderr != nil {
		outputs.Add(1)
		go t.copyOut(&outputs, channel.Stderr, stderr)
	}
	if stdin != nil {
		inputs.Add(1)
		go t.copyStdin(&inputs, stdin)
	}
	if rsz != nil {
		inputs.Add(1)
		go t.copyResize(&inputs, rsz)
	}
	outDone := make(chan struct{})
	go waitClose(&outputs, outDone)
	clientGone := false
	select {
	case <-outDone:
	case <-ws.Done():
		clientGone = true
		sc.Abort("client went away")
		<-outDone
	}
	var st *status.Status
	var cause error
	switch {
	case clientGone:
		cause = ws.Err()
		if cause == nil {
			cause = errors.New("client closed the connection")
		}
	case statusErr != nil:
		cause = statusErr
		st = status.NewInternalError(statusErr)
	default:
		st, cause = reencode(version, statusBytes)
	}
	if why := t.cutReason(); why != "" {
		cause = errors.New(why)
		st = status.NewInternalError(cause)
	}
	outcome := t.finish(st, cause)
	sc.Close() // ends stdin and resize writes still blocked upstream
	inputs.Wait()
	return outcome
}

func waitClose(wg *sync.WaitGroup, done chan<- struct{}) {
	wg.Wait()
	close(done)
}

func (t *translation) cutReason() string {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.cutWhy
}

// reencode decodes the upstream's error stream for its version and writes
// the status the API server's translator would (PROTOCOL.md 8.3).
func reencode(v protocol.Version, b []byte) (*status.Status, error) {
	var err error
	if v.StatusJSON {
		err = status.Decode(b)
	} else {
		err = status.DecodeText(b)
	}
	var exit *status.ExitError
	var se *status.Error
	switch {
	case err == nil:
		return status.NewSuccess(), nil
	case errors.As(err, &exit):
		return status.NewExit(exit.Code), err
	case errors.As(err, &se):
		return status.NewInternalError(errors.New(se.Message)), err
	default:
		return status.NewInternalError(err), err
	}
}

// finish writes st (nil: none, the client is gone) on the error channel
// within the status deadline, then closes the WebSocket with 1000.
func (t *translation) finish(st *status.Status, cause error) string {
	s, ws := t.s, t.ws
	outcome := "ok"
	if cause != nil {
		s.fail(cause.Error())
		outcome = "error"
	}
	if code, ok := status.IsExit(cause); ok {
		s.setExit(code)
		outcome = "ok"
	} else if cause == nil && s.verb == "exec" {
		s.setExit(0)
	}
	if st != nil {
		guard := time.AfterFunc(statusWriteTimeout, func() { ws.Abort("status write timed out") })
		_, err := ws.Channel(channel.Error).Write(st.Marshal())
		guard.Stop()
		if err != nil {
			outcome = "error"
		}
	}
	ws.Close()
	if t.cutReason() != "" {
		outcome = "cut"
	}
	return outcome
}

func (t *translation) readStatus(wg *sync.WaitGroup, st *spdy.Stream, out *[]byte, errOut *error) {
	defer wg.Done()
	b, err := io.ReadAll(io.LimitReader(st, maxStatusBytes))
	*out = b
	if err != nil && !errors.Is(err, io.EOF) {
		*errOut = err
	}
}

// copyOut copies an upstream output stream to its WebSocket channel (and
// the recording, for stdout of a tty session).
func (t *translation) copyOut(wg *sync.WaitGroup, ch int, src *spdy.Stream) {
	defer wg.Done()
	var dst io.Writer = &countWriter{w: t.ws.Channel(ch), n: &t.s.bytesOut}
	if t.rec != nil && ch == channel.Stdout {
		dst = io.MultiWriter(dst, t.rec)
	}
	if _, err := io.Copy(dst, src); err != nil {
		src.Reset()
	}
}

// copyStdin copies WebSocket stdin upstream; the v5 close signal (EOF)
// becomes a FIN.
func (t *translation) copyStdin(wg *sync.WaitGroup, dst *spdy.Stream) {
	defer wg.Done()
	_, err := io.Copy(&countWriter{w: dst, n: &t.s.bytesIn}, t.ws.Channel(channel.Stdin))
	if err == nil {
		dst.CloseWrite()
		return
	}
	dst.Reset()
}

// copyResize forwards terminal sizes at no more than the allowed rate; a
// flood cuts the session.
func (t *translation) copyResize(wg *sync.WaitGroup, dst *spdy.Stream) {
	defer wg.Done()
	dec := resize.NewDecoder(t.ws.Channel(channel.Resize))
	limit := newRate(t.g.opts.MaxResizePerSecond)
	var buf []byte
	for {
		sz, err := dec.Decode()
		if err != nil {
			if errors.Is(err, io.EOF) {
				dst.CloseWrite()
			}
			return
		}
		if !limit.allow() {
			t.s.cut("resize flood: more than the allowed resize messages per second")
			return
		}
		if t.rec != nil {
			t.rec.Resize(int(sz.Width), int(sz.Height))
		}
		buf = resize.Append(buf[:0], sz)
		if _, err := dst.Write(buf); err != nil {
			return
		}
	}
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
