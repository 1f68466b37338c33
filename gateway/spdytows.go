package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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

// spdyToWS carries a SPDY exec or attach (kubectl before 1.30, or any SPDY
// client) to an upstream that speaks only WebSocket v5: the other direction
// of the API server's translator, which the API server itself does not
// offer. The gateway is a SPDY server toward the client (v4, v3 or v2) and a
// v5 WebSocket client upstream; FIN on stdin becomes the v5 close signal;
// the upstream's status is re-encoded for the client's version.
type spdyToWS struct {
	g       *Gateway
	s       *session
	sc      *spdy.Conn
	ws      *websocket.Conn
	version protocol.Version
	rec     *audit.Recording
	// streaming is set once the upstream is dialed: from then on a cut
	// ends the upstream only, so the client gets a failure status rather
	// than a bare close (which a SPDY client reads as success).
	streaming atomic.Bool
}

var spdyServerVersions = []string{protocol.V4, protocol.V3, protocol.V2}

// translateSPDY dials the WebSocket upstream first, so its refusal reaches
// the SPDY client before any upgrade, as the API server's would (see
// translate), then upgrades the client and translates.
func (g *Gateway) translateSPDY(w http.ResponseWriter, r *http.Request, s *session) string {
	hdr, hc, target := g.wsUpstream(r, s)
	defer hc.CloseIdleConnections()
	ws, resp, err := websocket.Dial(r.Context(), target.String(), &websocket.DialOptions{Header: hdr, HTTPClient: hc,
		ReadLimit: g.opts.MaxMessageBytes, Logger: g.log})
	if err != nil {
		return g.refuseAsUpstream(w, s, "translate-dial", resp, err)
	}
	defer ws.Close()
	sc, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{Protocols: spdyServerVersions, IdleTimeout: g.opts.IdleTimeout, Logger: g.log})
	if err != nil {
		s.fail("spdy upgrade: " + err.Error())
		return "refused"
	}
	defer sc.Close()
	v, _ := protocol.Lookup(protocol.SPDYVersions, sc.Protocol())
	t := &spdyToWS{g: g, s: s, sc: sc, ws: ws, version: v, rec: g.startRecording(s)}
	if t.rec != nil {
		defer t.rec.Close()
	}
	s.onCut(func(reason string) {
		if !t.streaming.Load() {
			sc.Abort(reason)
		}
	})
	return t.run(r)
}

// streams are the client's SPDY streams by type.
type clientStreams struct {
	errS, stdin, stdout, stderr, rsz *spdy.Stream
}

// accept takes the streams client-go opens for this request: error, then
// the requested standard streams (no stderr with a tty), then resize with a
// tty on v3 and later, within the stream-creation timeout.
func (t *spdyToWS) accept(ctx context.Context) (*clientStreams, error) {
	s := t.s
	want := 1
	for _, on := range []bool{s.stdin, s.stdout, s.stderr && !s.tty, s.tty && t.version.Resize} {
		if on {
			want++
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs := &clientStreams{}
	for range want {
		st, err := t.sc.Accept(ctx)
		if err != nil {
			return nil, fmt.Errorf("accept streams: %w", err)
		}
		var slot **spdy.Stream
		switch strings.ToLower(st.Headers().Get(protocol.HeaderStreamType)) {
		case protocol.StreamError:
			slot = &cs.errS
		case protocol.StreamStdin:
			slot = &cs.stdin
		case protocol.StreamStdout:
			slot = &cs.stdout
		case protocol.StreamStderr:
			slot = &cs.stderr
		case protocol.StreamResize:
			slot = &cs.rsz
		}
		if slot == nil || *slot != nil {
			st.Reset()
			continue
		}
		*slot = st
	}
	if cs.errS == nil {
		return nil, errors.New("client opened no error stream")
	}
	return cs, nil
}

func (t *spdyToWS) run(r *http.Request) string {
	s := t.s
	cs, err := t.accept(r.Context())
	if err != nil {
		s.fail(err.Error())
		return "error"
	}
	ws := t.ws
	t.streaming.Store(true)
	t.s.onCut(func(reason string) { ws.Abort(reason) })
	return t.stream(cs)
}

func (t *spdyToWS) stream(cs *clientStreams) string {
	ws := t.ws
	var inputs, outputs sync.WaitGroup
	var statusBytes []byte
	var statusErr error
	outputs.Add(1)
	go t.readStatus(&outputs, &statusBytes, &statusErr)
	for ch, dst := range map[int]*spdy.Stream{channel.Stdout: cs.stdout, channel.Stderr: cs.stderr} {
		if dst == nil {
			ws.Channel(ch).CloseRead()
			continue
		}
		outputs.Add(1)
		go t.copyOut(&outputs, ch, dst)
	}
	if cs.stdin != nil {
		inputs.Add(1)
		go t.copyStdin(&inputs, cs.stdin)
	}
	if cs.rsz != nil {
		inputs.Add(1)
		go t.copyResize(&inputs, cs.rsz)
	}
	var st *status.Status
	var cause error
	switch {
	case !t.awaitOutputs(&outputs):
		// Nothing is left to report to; no status.
		cause = t.sc.Err()
		if cause == nil {
			cause = errors.New("client closed the connection")
		}
	case t.s.cutReason() != "":
		cause = fmt.Errorf("the gateway ended the session: %s", t.s.cutReason())
		st = status.NewInternalError(cause)
	case statusErr != nil:
		cause = statusErr
		st = status.NewInternalError(cause)
	default:
		st, cause = reencode(protocol.Version{StatusJSON: true}, statusBytes)
	}
	outcome := t.finish(cs, st, cause)
	ws.Close() // ends stdin and resize copies blocked on the upstream
	t.sc.Close()
	inputs.Wait()
	return outcome
}

// awaitOutputs waits for the upstream's outputs to end and reports true,
// or reports false when the client's connection ends first (a killed
// client, even an idle one whose process writes nothing): then it aborts
// the upstream, so the node ends the process, and waits for the copies.
func (t *spdyToWS) awaitOutputs(outputs *sync.WaitGroup) bool {
	done := make(chan struct{})
	go waitClose(outputs, done)
	select {
	case <-done:
		return true
	case <-t.sc.Done():
	}
	select {
	case <-done: // the session ended first after all
		return true
	default:
	}
	t.ws.Abort("client went away")
	<-done
	return false
}

func (t *spdyToWS) readStatus(wg *sync.WaitGroup, out *[]byte, errOut *error) {
	defer wg.Done()
	b, err := io.ReadAll(io.LimitReader(t.ws.Channel(channel.Error), maxStatusBytes))
	*out = b
	if err != nil && !errors.Is(err, io.EOF) {
		*errOut = err
	}
}

func (t *spdyToWS) copyOut(wg *sync.WaitGroup, ch int, dst *spdy.Stream) {
	defer wg.Done()
	var w io.Writer = &countWriter{w: dst, n: &t.s.bytesOut}
	if t.rec != nil && ch == channel.Stdout {
		w = io.MultiWriter(w, t.rec)
	}
	_, err := io.Copy(w, t.ws.Channel(ch))
	if err != nil {
		t.ws.Channel(ch).CloseRead()
	}
	dst.CloseWrite()
}

func (t *spdyToWS) copyStdin(wg *sync.WaitGroup, src *spdy.Stream) {
	defer wg.Done()
	dst := t.ws.Channel(channel.Stdin)
	if _, err := io.Copy(&countWriter{w: dst, n: &t.s.bytesIn}, src); err == nil {
		dst.CloseWrite() // the v5 close signal
	}
}

func (t *spdyToWS) copyResize(wg *sync.WaitGroup, src *spdy.Stream) {
	defer wg.Done()
	dec := resize.NewDecoder(src)
	limit := newRate(t.g.opts.MaxResizePerSecond)
	var buf []byte
	for {
		sz, err := dec.Decode()
		if err != nil {
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
		if _, err := t.ws.Channel(channel.Resize).Write(buf); err != nil {
			return
		}
	}
}

// finish writes st on the client's error stream in its version's form
// (Status JSON for v4, the failure text for v2 and v3, nothing on success).
func (t *spdyToWS) finish(cs *clientStreams, st *status.Status, cause error) string {
	s := t.s
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
	var payload []byte
	switch {
	case st == nil:
	case t.version.StatusJSON:
		payload = st.Marshal()
	case st.Status != status.Success:
		payload = []byte(st.Message)
	}
	guard := time.AfterFunc(statusWriteTimeout, func() { t.sc.Abort("status write timed out") })
	if len(payload) > 0 {
		if _, err := cs.errS.Write(payload); err != nil {
			outcome = "error"
		}
	}
	cs.errS.CloseWrite()
	guard.Stop()
	return outcome
}

// wsUpstream is what a WebSocket dial to the upstream for a SPDY client's
// request needs: the headers the upstream should see (without the SPDY
// upgrade's), a client that follows no redirect, and the target.
func (g *Gateway) wsUpstream(r *http.Request, s *session) (http.Header, *http.Client, *url.URL) {
	hdr := g.upstreamHeader(r, s.user)
	for _, k := range []string{"Upgrade", protocol.HeaderStreamProtocol} {
		hdr.Del(k)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: g.opts.DialContext, TLSClientConfig: g.opts.UpstreamTLS},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return hdr, hc, g.upstreamURL(r.URL.Path, r.URL.RawQuery)
}
