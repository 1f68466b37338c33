package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/internal/pump"
)

// spliceBuf is a copier's read; spliceBulk its read while bulk output
// flows (see halfCopy.run): a quarter MiB per read and write moves a GiB
// in 4,000 system calls each way instead of 32,000.
const (
	spliceBuf  = 32 << 10
	spliceBulk = 256 << 10
)

// splicePool and spliceBulkPool lend the copiers their buffers only while
// bytes move: an idle spliced session holds none (two 32 KiB buffers each
// before).
var (
	splicePool     = pump.NewPool(spliceBuf)
	spliceBulkPool = pump.NewPool(spliceBulk)
)

// endGrace is how long the other direction may run on after one direction
// ended cleanly (the closing handshakes of both wires need a moment).
const endGrace = 60 * time.Second

// splice copies both ways between the hijacked client and the upstream
// until both directions end, an error ends one, a limit cuts the session
// or the idle timeout passes. A clean end of one direction half-closes the
// other side's socket. It closes both connections before returning and
// joins the two copiers.
//
// echoes, when not nil, takes the client's answers to the gateway's
// keep-alive out of its bytes before they go upstream.
func (g *Gateway) splice(s *session, client net.Conn, cr io.Reader, up net.Conn, ur io.Reader, inspect, tap func([]byte) error, echoes *echoFilter) outcome {
	var closeOnce sync.Once
	closeBoth := func(string) {
		closeOnce.Do(func() {
			client.Close()
			up.Close()
		})
	}
	// A cut stops both copiers at once; the closing itself, which may
	// linger for the client to read the gateway's last word, happens below
	// on this goroutine, so a cut of many sessions never waits on each.
	s.onCut(func(string) {
		up.Close()
		_ = client.SetDeadline(time.Now())
	})
	quiet := idle.New(g.opts.IdleTimeout, func() { s.cut("idle timeout") })
	quiet.Start()
	defer quiet.Stop()
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	in := &halfCopy{dst: up, src: cr, ready: readiness(cr, client), n: &s.bytesIn, idle: quiet, echoes: echoes, inspect: inspect, toUpstream: true, errc: errc, wg: &wg}
	out := &halfCopy{dst: client, src: ur, ready: readiness(ur, up), n: &s.bytesOut, idle: quiet, inspect: tap, onReset: s.onUpstreamReset, errc: errc, wg: &wg}
	go in.run()
	go out.run()
	first := <-errc
	var lim *LimitError
	if errors.As(first, &lim) && s.onLimit != nil {
		s.onLimit(lim)
	}
	if first != nil && !errors.Is(first, errUpstreamGone) {
		closeBoth("")
	} else {
		t := time.AfterFunc(endGrace, func() { closeBoth("") })
		defer t.Stop()
	}
	second := <-errc
	wg.Wait()
	closeBoth("")
	s.mu.Lock()
	cut := s.cutWhy
	s.mu.Unlock()
	var limit *LimitError
	switch {
	case cut != "":
		return outcomeCut
	case errors.As(first, &limit):
		s.fail(limit.Msg)
		return outcomeLimit
	case !peerClosed(first):
		s.fail(first.Error())
		return outcomeError
	case !peerClosed(second):
		s.fail(second.Error())
		return outcomeError
	}
	return outcomeOK
}

// peerClosed reports an end a raw proxy cannot tell from a normal one:
// EOF, our own close, or the peer resetting the socket once it was done
// (client-go and the kubelet close with unread bytes, which is a RST).
func peerClosed(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, errUpstreamGone) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readiness returns a wait for src to have something to read that holds no
// buffer, or nil where that cannot be told. src is conn itself or, as
// hijacked and dialled connections come, a bufio.Reader over it; conn may
// be a wrapper of this package over the socket. A TLS connection cannot
// say whether it holds decrypted bytes, so it gets no wait (its copier
// keeps its buffer while idle, as before).
func readiness(src io.Reader, conn net.Conn) func() error {
	if u, ok := conn.(interface{ underlying() net.Conn }); ok {
		conn = u.underlying()
	}
	if _, ok := conn.(syscall.Conn); !ok {
		return nil
	}
	br, isBuf := src.(*bufio.Reader)
	if !isBuf && src != io.Reader(conn) {
		return nil
	}
	w := pump.NewWaiter(conn)
	return func() error {
		if isBuf && br.Buffered() > 0 {
			return nil
		}
		return w.Wait()
	}
}

// errUpstreamGone ends the client's direction of a splice when the
// upstream no longer takes its bytes (it closed or reset the connection).
// The upstream's direction runs on: what the upstream sent before it went,
// its status above all, is still to be read and passed on.
var errUpstreamGone = errors.New("the upstream closed the connection")

// errUpstreamReset ends a splice whose upstream reset the connection
// before it ended the session.
var errUpstreamReset = errors.New(reasonUpstreamReset)

// halfCopy is one direction of a splice.
type halfCopy struct {
	dst     net.Conn
	src     io.Reader
	ready   func() error // nil: read at once
	n       *atomic.Int64
	idle    *idle.Timer
	echoes  *echoFilter // nil: every byte passes
	inspect func([]byte) error
	// toUpstream says dst is the upstream, so that its going ends this
	// direction as errUpstreamGone.
	toUpstream bool
	// onReset, when set, runs when src, the upstream, resets the
	// connection, once everything it sent before has been passed on, and
	// reports whether it told the client.
	onReset func() bool
	errc    chan<- error
	wg      *sync.WaitGroup
}

// run copies until src ends (then half-closes dst) or fails. A read that
// fills a 32 KiB buffer shows more is queued, so the next reads take a
// 256 KiB one for as long as they return at least 32 KiB: bulk output
// moves in large reads and writes, interactive bytes in small buffers, and
// nothing waits for more than is there.
func (h *halfCopy) run() {
	defer h.wg.Done()
	wait := true
	pool := splicePool
	for {
		if wait && h.ready != nil {
			if err := h.ready(); err != nil {
				h.errc <- err
				return
			}
		}
		bp := pool.Get()
		buf := *bp
		n, rerr := h.src.Read(buf)
		if n > 0 {
			if err := h.pass(buf[:n]); err != nil {
				pool.Put(bp)
				h.errc <- err
				return
			}
			h.n.Add(int64(n))
		}
		pool.Put(bp)
		// A full read suggests more is queued: read again without waiting.
		wait = n < len(buf)
		if n >= spliceBuf {
			pool = spliceBulkPool
		} else {
			pool = splicePool
		}
		if errors.Is(rerr, io.EOF) {
			if h.echoes != nil {
				if err := h.pass(h.echoes.flush()); err != nil {
					h.errc <- err
					return
				}
			}
			if cw, ok := h.dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			h.errc <- nil
			return
		}
		if rerr != nil {
			if h.onReset != nil && errors.Is(rerr, syscall.ECONNRESET) && h.onReset() {
				rerr = errUpstreamReset // the client was told: a failure, not an end
			}
			h.errc <- rerr
			return
		}
	}
}

// pass inspects p and writes it to dst, less what the echo filter takes
// out (p is changed in place). What passes is activity for the idle
// timeout; the client's answers to the keep-alive are not, or a client
// that answers them would never be idle.
func (h *halfCopy) pass(p []byte) error {
	var pre []byte
	if h.echoes != nil {
		pre, p = h.echoes.filter(p)
	}
	if len(pre) > 0 || len(p) > 0 {
		h.idle.Touch()
	}
	for _, b := range [][]byte{pre, p} {
		if len(b) == 0 {
			continue
		}
		if h.inspect != nil {
			if err := h.inspect(b); err != nil {
				return err
			}
		}
		if _, err := h.dst.Write(b); err != nil {
			if h.toUpstream && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
				return fmt.Errorf("%w: %w", errUpstreamGone, err)
			}
			return err
		}
	}
	return nil
}
