package soak

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// faultKind is what the fault proxy does to a session's streaming
// connection once the fault fires.
type faultKind string

const (
	faultNone faultKind = "none"
	// faultStall stops relaying both ways for fault.stall, then resumes.
	faultStall faultKind = "stall"
	// faultReset closes both sockets with SO_LINGER 0: an RST, no FIN.
	faultReset faultKind = "reset"
	// faultHalfClose sends a FIN one way (fault.toServer says which) and
	// drops whatever that direction still carries; the other way goes on.
	faultHalfClose faultKind = "half-close"
	// faultSlowRead reads from the server in small pieces at fault.rate
	// bytes per second: a client that drains slowly.
	faultSlowRead faultKind = "slow-read"
	// faultBandwidth caps both directions at fault.rate bytes per second.
	faultBandwidth faultKind = "bandwidth"
	// faultKill SIGKILLs the CLI client (the proxy only says when).
	faultKill faultKind = "client-kill"
)

// fault is one session's fault: it fires on the first upgraded connection
// once after bytes have crossed it (both directions, counted from the
// upgrade request on).
type fault struct {
	kind     faultKind
	after    int64
	stall    time.Duration
	toServer bool
	rate     int64
}

func (f fault) String() string {
	switch f.kind {
	case faultNone:
		return "none"
	case faultStall:
		return fmt.Sprintf("stall(after=%d,for=%v)", f.after, f.stall)
	case faultHalfClose:
		dir := "to-client"
		if f.toServer {
			dir = "to-server"
		}
		return fmt.Sprintf("half-close(after=%d,%s)", f.after, dir)
	case faultSlowRead, faultBandwidth:
		return fmt.Sprintf("%s(after=%d,rate=%d)", f.kind, f.after, f.rate)
	default:
		return fmt.Sprintf("%s(after=%d)", f.kind, f.after)
	}
}

// faultProxy is a loopback TCP relay between one session's client and its
// server (porthole serve or a gateway). Plain HTTP connections (discovery,
// the pod read) are relayed untouched, half-closes and resets propagated.
// On the first connection whose client bytes contain an Upgrade header the
// fault is armed; it fires at most once per proxy.
type faultProxy struct {
	ln       net.Listener
	upstream string
	f        fault
	onKill   func() // faultKill: what firing does

	fired    atomic.Bool
	upgrades atomic.Int32
	done     chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	links []*link
	wg    sync.WaitGroup
}

// resetUpgraded resets (SO_LINGER 0) every upgraded connection now and
// reports how many there were: a fault fired by the test, not by bytes.
func (p *faultProxy) resetUpgraded() int {
	p.mu.Lock()
	links := append([]*link(nil), p.links...)
	p.mu.Unlock()
	n := 0
	for _, l := range links {
		l.mu.Lock()
		up := l.upgraded
		l.mu.Unlock()
		if up {
			l.abort()
			n++
		}
	}
	if n > 0 {
		p.fired.Store(true)
	}
	return n
}

func newFaultProxy(upstream string, f fault, onKill func()) (*faultProxy, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &faultProxy{ln: ln, upstream: upstream, f: f, onKill: onKill, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

func (p *faultProxy) URL() string { return "http://" + p.ln.Addr().String() }

// Fired reports whether the fault happened.
func (p *faultProxy) Fired() bool { return p.fired.Load() }

// Close stops accepting, closes every relayed connection and joins the
// relay goroutines.
func (p *faultProxy) Close() {
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *faultProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.handle(c.(*net.TCPConn))
	}
}

func (p *faultProxy) handle(client *net.TCPConn) {
	defer p.wg.Done()
	defer client.Close()
	if !p.track(client) {
		return
	}
	up, err := net.DialTimeout("tcp4", p.upstream, 10*time.Second)
	if err != nil {
		_ = client.SetLinger(0)
		return
	}
	server := up.(*net.TCPConn)
	defer server.Close()
	if !p.track(server) {
		return
	}
	l := &link{p: p, client: client, server: server, resume: closedChan}
	p.mu.Lock()
	p.links = append(p.links, l)
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go l.relay(&wg, server, client, true)
	go l.relay(&wg, client, server, false)
	wg.Wait()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// link is one relayed connection.
type link struct {
	p              *faultProxy
	client, server *net.TCPConn

	mu       sync.Mutex
	upgraded bool   // an Upgrade header went by: the streaming connection
	armed    bool   // this link carries the fault
	n        int64  // bytes since the upgrade request, both ways
	tail     []byte // end of the last client chunk, for a header split across reads
	fired    bool
	resume   chan struct{} // closed unless stalled
	dropUp   bool          // half-close toward the server happened
	dropDown bool          // half-close toward the client happened
	slowDown bool          // slow-read or bandwidth: throttle server to client
	slowUp   bool          // bandwidth: throttle client to server
}

var upgradeHeader = []byte("\r\nupgrade:")

// relay copies src to dst. toServer is the client-to-server direction.
func (l *link) relay(wg *sync.WaitGroup, dst, src *net.TCPConn, toServer bool) {
	defer wg.Done()
	buf := make([]byte, 32<<10)
	for {
		size := len(buf)
		if l.throttled(toServer) {
			size = 4 << 10
		}
		n, err := src.Read(buf[:size])
		if n > 0 {
			if !l.pass(buf[:n], toServer) {
				continue // dropped after a half-close
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.abort()
				return
			}
			if l.throttled(toServer) {
				l.wait(time.Duration(int64(n) * int64(time.Second) / l.p.f.rate))
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				l.halfClose(dst, toServer)
			} else {
				l.abort()
			}
			return
		}
	}
}

func (l *link) throttled(toServer bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if toServer {
		return l.slowUp
	}
	return l.slowDown
}

// wait pauses a direction for d, or until the proxy closes.
func (l *link) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.p.done:
	}
}

// pass accounts for a chunk about to be relayed, fires the fault when its
// threshold is crossed, waits out a stall, and says whether to write it.
func (l *link) pass(b []byte, toServer bool) bool {
	l.mu.Lock()
	if toServer && !l.upgraded {
		scan := append(l.tail, b...)
		if i := bytes.Index(bytes.ToLower(scan), upgradeHeader); i >= 0 {
			l.upgraded = true
			l.armed = l.p.upgrades.Add(1) == 1
		} else if len(scan) > len(upgradeHeader) {
			l.tail = append([]byte(nil), scan[len(scan)-len(upgradeHeader):]...)
		} else {
			l.tail = scan
		}
	}
	if l.upgraded {
		l.n += int64(len(b))
	}
	fire := l.armed && !l.fired && l.p.f.kind != faultNone && l.n >= l.p.f.after
	if fire {
		l.fired = true
		l.p.fired.Store(true)
	}
	l.mu.Unlock()
	if fire {
		l.fire()
	}
	l.mu.Lock()
	resume := l.resume
	drop := (toServer && l.dropUp) || (!toServer && l.dropDown)
	l.mu.Unlock()
	select {
	case <-resume:
	case <-l.p.done:
	}
	return !drop
}

func (l *link) fire() {
	f := l.p.f
	switch f.kind {
	case faultStall:
		ch := make(chan struct{})
		l.mu.Lock()
		l.resume = ch
		l.mu.Unlock()
		time.AfterFunc(f.stall, func() { close(ch) })
	case faultReset:
		l.abort()
	case faultHalfClose:
		l.mu.Lock()
		if f.toServer {
			l.dropUp = true
		} else {
			l.dropDown = true
		}
		l.mu.Unlock()
		if f.toServer {
			_ = l.server.CloseWrite()
		} else {
			_ = l.client.CloseWrite()
		}
	case faultSlowRead:
		l.mu.Lock()
		l.slowDown = true
		l.mu.Unlock()
	case faultBandwidth:
		l.mu.Lock()
		l.slowDown, l.slowUp = true, true
		l.mu.Unlock()
	case faultKill:
		if l.p.onKill != nil {
			l.p.onKill()
		}
	}
}

// halfClose passes an EOF on as a FIN.
func (l *link) halfClose(dst *net.TCPConn, toServer bool) {
	l.mu.Lock()
	dropped := (toServer && l.dropUp) || (!toServer && l.dropDown)
	l.mu.Unlock()
	if !dropped {
		_ = dst.CloseWrite()
	}
}

// abort resets both sides: SO_LINGER 0 then close sends an RST.
func (l *link) abort() {
	_ = l.client.SetLinger(0)
	_ = l.server.SetLinger(0)
	l.client.Close()
	l.server.Close()
}
