package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/porthole/porthole/internal/replay"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

// ResumeOptions ask for a session that survives a cut connection: the
// client offers porthole's resume extension (protocol.ResumeV5) ahead of
// v5.channel.k8s.io. Only porthole's gateway selects it; any other server
// (the API server, a kubelet) selects v5 and the session runs as before,
// without resume. When it is selected, the client keeps every stdin byte
// the gateway has not acknowledged (resumeStdinBytes at most; beyond that
// it stops reading Stdin) and acknowledges the output it wrote; when the
// connection fails without a clean close, it reconnects with the session's
// id and what it received, and the session goes on with no byte lost or
// repeated.
type ResumeOptions struct {
	// For bounds how long the client tries to resume after a cut (default
	// DefaultResumeFor).
	For time.Duration
	// Notify, when set, gets one line per event: "connection lost,
	// resuming session..." and "resumed".
	Notify func(line string)
}

// ackInterval is the longest a change in the output received waits for
// its acknowledgement (a variable for tests).
var ackInterval = 20 * time.Millisecond

// DefaultResumeFor is how long a client tries to resume by default: the
// gateway's suggested grace.
const DefaultResumeFor = 3 * time.Minute

const (
	resumeStdinBytes = protocol.ResumeStdinWindow
	// ackBytes of output received since the last acknowledgement send
	// one at once. Why: the gateway keeps ResumeOutputWindow per stream
	// unacknowledged and then stops reading upstream, so acknowledging
	// only every ackInterval capped a session at 4 MiB per 20 ms (a 1 GiB
	// exec through serve ran at 170 MB/s, 650 without resume).
	ackBytes   = protocol.ResumeOutputWindow / 4
	maxBackoff = 2 * time.Second
)

// resumer is one resumable session across its connections.
type resumer struct {
	c   *Client
	url string
	o   *StreamOptions
	id  string

	mu       sync.Mutex
	cond     *sync.Cond
	got      protocol.Offsets // output bytes received and written, per stream
	sinceAck int64            // output bytes written since the last acknowledgement
	ackNow   chan struct{}    // asks acks for one now (sinceAck reached ackBytes)
	status   []byte
	stdin    replay.Buffer // stdin not yet acknowledged
	stdinEOF bool
	cur      *stream.Session // the live connection's session; nil between
	size     *resize.Size
	over     bool
	outErr   error
}

// runResumable drives a session whose server selected the resume extension
// to its end, reconnecting after cuts.
func (c *Client) runResumable(ctx context.Context, rawURL string, conn *websocket.Conn, id string, o *StreamOptions) error {
	r := &resumer{c: c, url: rawURL, o: o, id: id, ackNow: make(chan struct{}, 1)}
	r.cond = sync.NewCond(&r.mu)
	var side sync.WaitGroup
	stdinDone := make(chan struct{})
	if o.Stdin != nil {
		go r.readStdin(stdinDone)
	} else {
		close(stdinDone)
	}
	if o.TTY && o.Sizes != nil {
		side.Add(1)
		go r.sizes(&side)
	}
	err := r.loop(ctx, conn)
	r.mu.Lock()
	r.over = true
	r.cond.Broadcast()
	r.mu.Unlock()
	joinStdin := interruptRead(o.Stdin)
	side.Wait()
	if joinStdin {
		<-stdinDone
		if d, ok := o.Stdin.(interface{ SetReadDeadline(time.Time) error }); ok {
			_ = d.SetReadDeadline(time.Time{})
		}
	}
	return err
}

// loop runs each connection in turn until one ends cleanly.
func (r *resumer) loop(ctx context.Context, conn *websocket.Conn) error {
	var stdinFrom int64
	for {
		clean := r.runConn(ctx, conn, stdinFrom)
		if err := ctx.Err(); err != nil {
			return err
		}
		r.mu.Lock()
		outErr, st := r.outErr, r.status
		r.mu.Unlock()
		if outErr != nil {
			return outErr
		}
		if clean {
			return (&stream.Session{Version: protocol.ResumeVersion}).DecodeStatus(st)
		}
		cause := conn.Err()
		r.notify("connection lost, resuming session...")
		var err error
		conn, stdinFrom, err = r.reconnect(ctx)
		if err != nil {
			return fmt.Errorf("%w: %w (resume: %w)", ErrNoStatus, cause, err)
		}
		r.notify("resumed")
	}
}

func (r *resumer) notify(line string) {
	if r.o.Resume.Notify != nil {
		r.o.Resume.Notify(line)
	}
}

// reconnect dials again with the session's id and offsets, with jittered
// backoff, until the gateway answers or refuses, or the resume time is up.
func (r *resumer) reconnect(ctx context.Context) (*websocket.Conn, int64, error) {
	limit := r.o.Resume.For
	if limit <= 0 {
		limit = DefaultResumeFor
	}
	deadline := time.Now().Add(limit)
	backoff := 50 * time.Millisecond
	for {
		r.mu.Lock()
		off := protocol.Offsets{Stdout: r.got.Stdout, Stderr: r.got.Stderr, Error: r.got.Error}
		r.mu.Unlock()
		h := http.Header{protocol.HeaderResume: {r.id}, protocol.HeaderResumeOffsets: {protocol.FormatOffsets(off)}}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := r.c.dialWebSocketResp(dctx, r.url, resumeDialOptions(h))
		cancel()
		if err == nil {
			if d.conn.Protocol() != protocol.ResumeV5 {
				_ = d.conn.Abort("resume not selected")
				return nil, 0, errors.New("the server did not select the resume protocol")
			}
			n, perr := strconv.ParseInt(d.resp.Header.Get(protocol.HeaderStdinOffset), 10, 64)
			r.mu.Lock()
			ok := perr == nil && n >= r.stdin.Base() && n <= r.stdin.Total()
			if ok {
				r.trimStdin(n)
			}
			r.mu.Unlock()
			if !ok {
				_ = d.conn.Abort("bad stdin offset")
				return nil, 0, fmt.Errorf("the gateway's stdin offset %q is outside what the client kept", d.resp.Header.Get(protocol.HeaderStdinOffset))
			}
			return d.conn, n, nil
		}
		var ue *UpgradeError
		if errors.As(err, &ue) && ue.StatusCode >= 400 && ue.StatusCode < 500 {
			return nil, 0, err
		}
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, 0, fmt.Errorf("gave up after %v: %w", limit, err)
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, 0, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// resumeDialOptions offer the resume extension, then v5.
func resumeDialOptions(h http.Header) *websocket.DialOptions {
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	return &websocket.DialOptions{Versions: []protocol.Version{protocol.ResumeVersion, v5},
		Channels: protocol.ResumeChannels, Header: h}
}

// trimStdin drops stdin the gateway acknowledged up to n; r.mu is held.
func (r *resumer) trimStdin(n int64) {
	if n > r.stdin.Base() && n <= r.stdin.Total() {
		r.stdin.Trim(n)
		r.cond.Broadcast()
	}
}

// runConn runs the session on one connection until it ends and reports
// whether it ended cleanly (the session is over).
func (r *resumer) runConn(ctx context.Context, conn *websocket.Conn, stdinFrom int64) bool {
	// Cancelled: the user gave up on the session (SIGINT, SIGTERM). Leave
	// with close 1000 so that the gateway ends it now; a failure code
	// would park it, its process running, for the resume grace.
	stop := context.AfterFunc(ctx, func() { _ = conn.Leave("cancelled") })
	defer stop()
	w := conn.ClientSession(r.o.want())
	ctl := conn.Channel(protocol.ResumeControl)
	r.mu.Lock()
	r.cur = w
	size := r.size
	r.mu.Unlock()
	if size != nil && w.Resize != nil {
		_, _ = w.Resize.Write(resize.Append(nil, *size))
	}
	var outs, side sync.WaitGroup
	for _, p := range []struct {
		src stream.Stream
		dst io.Writer
		n   *int64
	}{{w.Stdout, r.o.Stdout, &r.got.Stdout}, {w.Stderr, r.o.Stderr, &r.got.Stderr}, {w.Error, nil, &r.got.Error}} {
		if p.src == nil {
			continue
		}
		outs.Add(1)
		go r.copyOut(&outs, conn, p.src, p.dst, p.n)
	}
	side.Add(2)
	go r.acks(&side, conn, ctl)
	go r.readAcks(&side, ctl)
	if w.Stdin != nil {
		side.Add(1)
		go r.sendStdin(&side, conn, w.Stdin, stdinFrom)
	}
	wake := context.AfterFunc(conn.Context(), func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	outs.Wait()
	clean := conn.Err() == nil
	r.mu.Lock()
	r.cur = nil
	r.mu.Unlock()
	if clean {
		_ = conn.Close()
	} else {
		_ = conn.Abort("connection failed")
	}
	side.Wait()
	wake()
	return clean && r.outErr == nil
}

// copyOut writes one output channel locally (the error channel into the
// status) and counts what was written.
func (r *resumer) copyOut(wg *sync.WaitGroup, conn *websocket.Conn, src stream.Stream, dst io.Writer, n *int64) {
	defer wg.Done()
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			var werr error
			if dst != nil {
				_, werr = dst.Write(buf[:k])
			}
			r.mu.Lock()
			if dst == nil && len(r.status) < stream.MaxStatusBytes {
				r.status = append(r.status, buf[:min(k, stream.MaxStatusBytes-len(r.status))]...)
			}
			*n += int64(k)
			if r.sinceAck += int64(k); r.sinceAck >= ackBytes {
				select {
				case r.ackNow <- struct{}{}:
				default:
				}
			}
			if werr != nil && r.outErr == nil {
				r.outErr = fmt.Errorf("write output: %w", werr)
			}
			r.mu.Unlock()
			if werr != nil {
				_ = conn.Abort("local output failed")
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// acks sends what was received, every ackInterval while it changes and
// whenever ackBytes more arrived.
func (r *resumer) acks(wg *sync.WaitGroup, conn *websocket.Conn, ctl stream.Stream) {
	defer wg.Done()
	t := time.NewTicker(ackInterval)
	defer t.Stop()
	var last protocol.Offsets
	for {
		select {
		case <-conn.Done():
			return
		case <-t.C:
		case <-r.ackNow:
		}
		r.mu.Lock()
		off := protocol.Offsets{Stdout: r.got.Stdout, Stderr: r.got.Stderr, Error: r.got.Error}
		r.sinceAck = 0
		r.mu.Unlock()
		if off == last {
			continue
		}
		if _, err := ctl.Write([]byte(protocol.FormatOffsets(off) + "\n")); err != nil {
			return
		}
		last = off
	}
}

// readAcks reads the gateway's stdin acknowledgements.
func (r *resumer) readAcks(wg *sync.WaitGroup, ctl stream.Stream) {
	defer wg.Done()
	br := bufio.NewReaderSize(ctl, 256)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		off, err := protocol.ParseOffsets(string(line[:len(line)-1]))
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.trimStdin(off.Stdin)
		r.mu.Unlock()
	}
}

// sendStdin sends the kept stdin from the gateway's offset, then what
// arrives, and the close signal once Stdin ended.
func (r *resumer) sendStdin(wg *sync.WaitGroup, conn *websocket.Conn, dst stream.Stream, sent int64) {
	defer wg.Done()
	for {
		r.mu.Lock()
		// The gateway may have acknowledged stdin past sent (bytes an
		// earlier connection delivered): they are dropped, and not needed.
		for sent = max(sent, r.stdin.Base()); !r.over && conn.Err() == nil && !isDone(conn) && sent >= r.stdin.Total() && !r.stdinEOF; sent = max(sent, r.stdin.Base()) {
			r.cond.Wait()
		}
		if r.over || isDone(conn) {
			r.mu.Unlock()
			return
		}
		if sent >= r.stdin.Total() {
			r.mu.Unlock()
			_ = dst.CloseWrite()
			return
		}
		chunk, loan := r.stdin.Lend(sent) // untouched until returned: see replay.Buffer
		r.mu.Unlock()
		n, err := dst.Write(chunk)
		r.mu.Lock()
		r.stdin.Return(loan)
		r.mu.Unlock()
		sent += int64(n)
		if err != nil {
			return
		}
	}
}

func isDone(conn *websocket.Conn) bool {
	select {
	case <-conn.Done():
		return true
	default:
		return false
	}
}

// readStdin keeps Stdin's bytes until the gateway acknowledges them; it
// stops reading while resumeStdinBytes wait.
func (r *resumer) readStdin(done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 32<<10)
	for {
		r.mu.Lock()
		for !r.over && r.stdin.Len() >= resumeStdinBytes {
			r.cond.Wait()
		}
		over := r.over
		r.mu.Unlock()
		if over {
			return
		}
		n, err := r.o.Stdin.Read(buf[:min(len(buf), resumeStdinBytes-r.stdinLen())])
		r.mu.Lock()
		r.stdin.Append(buf[:n])
		if errors.Is(err, io.EOF) {
			r.stdinEOF = true
		}
		r.cond.Broadcast()
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (r *resumer) stdinLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stdin.Len()
}

// sizes keeps the latest terminal size and sends it on the live connection.
func (r *resumer) sizes(wg *sync.WaitGroup) {
	defer wg.Done()
	var buf []byte
	for {
		r.mu.Lock()
		over := r.over
		r.mu.Unlock()
		if over {
			return
		}
		select {
		case s, ok := <-r.o.Sizes:
			if !ok {
				return
			}
			r.mu.Lock()
			r.size = &s
			w := r.cur
			r.mu.Unlock()
			if w != nil && w.Resize != nil {
				buf = resize.Append(buf[:0], s)
				_, _ = w.Resize.Write(buf)
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
}
