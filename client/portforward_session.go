package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/transport/spdy"
)

// Reconnection backoff: the first retry after about reconnectBase, doubling
// up to reconnectCap, each delay drawn uniformly from its upper half so many
// clients of one restarted server do not retry in step.
const (
	reconnectBase = 200 * time.Millisecond
	reconnectCap  = 30 * time.Second
)

// forwarder runs one PortForward: the listeners, one accept loop each, the
// supervisor that keeps a session up, and a handler per accepted connection.
// All of them end before run returns.
type forwarder struct {
	ports  []ForwardedPort
	addrs  []listenAddr
	ready  func([]ForwardedPort)
	events events
	log    *slog.Logger
	dial   func(ctx context.Context) (*spdy.Conn, error)
	// udpIdle ends an idle UDP flow (PortForwardOptions.UDPIdleTimeout).
	udpIdle time.Duration

	// backoff returns the delay before reconnection attempt n (0-based).
	backoff func(n int) time.Duration

	nextID atomic.Uint64 // requestid of the next forwarded connection

	mu   sync.Mutex    // guards conn and up; never held across I/O
	conn *spdy.Conn    // the live session, nil while reconnecting
	up   chan struct{} // closed when conn is set again

	wg sync.WaitGroup // accept loops, connection handlers, the supervisor
}

// newForwarder checks opts. It starts nothing.
func newForwarder(opts *PortForwardOptions, dial func(context.Context) (*spdy.Conn, error), log *slog.Logger) (*forwarder, error) {
	if len(opts.Ports) == 0 {
		return nil, errors.New("port-forward: no ports")
	}
	for _, p := range opts.Ports {
		if p.Remote == 0 {
			return nil, errors.New("port-forward: remote port must be > 0")
		}
		if err := checkProtocol(p); err != nil {
			return nil, err
		}
	}
	udpIdle := opts.UDPIdleTimeout
	if udpIdle <= 0 {
		udpIdle = DefaultUDPIdleTimeout
	}
	addrs, err := parseAddresses(opts.Addresses)
	if err != nil {
		return nil, fmt.Errorf("port-forward: %w", err)
	}
	if log == nil {
		log = discardLogger()
	}
	return &forwarder{
		ports:   append([]ForwardedPort(nil), opts.Ports...),
		addrs:   addrs,
		ready:   opts.Ready,
		events:  events{f: opts.Events},
		log:     log,
		dial:    dial,
		udpIdle: udpIdle,
		backoff: jitteredBackoff,
		up:      make(chan struct{}),
	}, nil
}

// jitteredBackoff is reconnectBase doubled n times, capped, and drawn from
// the upper half of that.
func jitteredBackoff(n int) time.Duration {
	d := reconnectCap
	if n < 20 {
		d = min(reconnectBase<<n, reconnectCap)
	}
	return d/2 + rand.N(d/2+1)
}

// run connects, listens, reports ready and serves until ctx ends.
func (f *forwarder) run(ctx context.Context) error {
	conn, err := f.dial(ctx)
	if err != nil {
		return err
	}
	lns, err := f.listen()
	if err != nil {
		_ = conn.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer f.wg.Wait()
	defer cancel()
	f.setConn(conn)
	f.wg.Add(1)
	go f.supervise(ctx, conn)
	for _, l := range lns {
		f.wg.Add(1)
		if l.pc != nil {
			go f.serveUDP(ctx, l)
		} else {
			go f.acceptLoop(ctx, l)
		}
	}
	if f.ready != nil {
		f.ready(boundPorts(lns))
	}
	<-ctx.Done()
	return nil
}

// listen binds every port, printing kubectl's lines; it fails only when no
// port could be bound.
func (f *forwarder) listen() ([]portListener, error) {
	var all []portListener
	for _, p := range f.ports {
		lns, bound, warnings, err := listenPort(p, f.addrs)
		for _, w := range warnings {
			f.events.emit(PortForwardEvent{Kind: EventListenWarning, Port: bound, Err: w})
		}
		if err != nil {
			f.events.emit(PortForwardEvent{Kind: EventListenFailed, Port: p, Err: err})
			continue
		}
		for _, l := range lns {
			f.events.emit(PortForwardEvent{Kind: EventListening, Port: l.port, Addr: l.addr()})
		}
		all = append(all, lns...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("unable to listen on any of the requested ports: %v", f.ports)
	}
	return all, nil
}

// boundPorts lists each forward once, with its bound local port.
func boundPorts(lns []portListener) []ForwardedPort {
	var out []ForwardedPort
	for i, l := range lns {
		if i == 0 || lns[i-1].port != l.port {
			out = append(out, l.port)
		}
	}
	return out
}

// acceptLoop hands every connection on l to a handler until ctx ends, then
// closes l.
func (f *forwarder) acceptLoop(ctx context.Context, l portListener) {
	defer f.wg.Done()
	stop := context.AfterFunc(ctx, func() { _ = l.ln.Close() })
	defer stop()
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				f.events.emit(PortForwardEvent{Kind: EventAcceptFailed, Port: l.port, Err: err})
			}
			_ = l.ln.Close()
			return
		}
		f.wg.Add(1)
		go f.handle(ctx, nc, l.port)
	}
}

// setConn publishes conn as the live session and wakes waiting handlers.
func (f *forwarder) setConn(conn *spdy.Conn) {
	f.mu.Lock()
	f.conn = conn
	close(f.up)
	f.mu.Unlock()
}

// dropConn withdraws the live session; handlers wait for the next one.
func (f *forwarder) dropConn() {
	f.mu.Lock()
	f.conn = nil
	f.up = make(chan struct{})
	f.mu.Unlock()
}

// session returns the live session, waiting through a reconnection.
func (f *forwarder) session(ctx context.Context) (*spdy.Conn, error) {
	for {
		f.mu.Lock()
		conn, up := f.conn, f.up
		f.mu.Unlock()
		if conn != nil {
			return conn, nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// supervise owns the session: when it ends it is aborted (forwarded
// connections on it fail and close) and replaced; when ctx ends it is
// closed.
func (f *forwarder) supervise(ctx context.Context, conn *spdy.Conn) {
	defer f.wg.Done()
	for {
		select {
		case <-ctx.Done():
			_ = conn.Close()
			return
		case <-conn.Done():
		}
		f.dropConn()
		f.log.Info("port-forward session lost", "err", conn.Err())
		_ = conn.Abort("lost connection to pod")
		f.events.emit(PortForwardEvent{Kind: EventSessionLost})
		if conn = f.reconnect(ctx); conn == nil {
			return
		}
		f.events.emit(PortForwardEvent{Kind: EventReconnected})
		f.setConn(conn)
	}
}

// reconnect dials until it gets a session or ctx ends (nil). A failure is
// printed when its text differs from the previous one, so a long outage
// does not flood the terminal.
func (f *forwarder) reconnect(ctx context.Context) *spdy.Conn {
	last := ""
	for n := 0; ; n++ {
		t := time.NewTimer(f.backoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		conn, err := f.dial(ctx)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		f.log.Debug("port-forward reconnect failed", "attempt", n+1, "err", err)
		if msg := err.Error(); msg != last {
			last = msg
			f.events.emit(PortForwardEvent{Kind: EventReconnectFailed, Err: err})
		}
	}
}

// closeWriter is the half-close of a local TCP (or Unix) connection.
type closeWriter interface{ CloseWrite() error }

var _ closeWriter = (*net.TCPConn)(nil)
