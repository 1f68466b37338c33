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
	dial   func(ctx context.Context) (*podConn, error)
	// tracker, when following, keeps the target's pods; trackedRV is the
	// resourceVersion of its first list.
	tracker   *podTracker
	trackedRV string
	// udpIdle ends an idle UDP flow (PortForwardOptions.UDPIdleTimeout).
	udpIdle time.Duration

	// backoff returns the delay before reconnection attempt n (0-based).
	backoff func(n int) time.Duration

	nextID atomic.Uint64 // requestid of the next forwarded connection

	mu   sync.Mutex    // guards conn, up and gone; never held across I/O
	conn *podConn      // the live session, nil while reconnecting
	up   chan struct{} // closed when conn is set again
	gone chan struct{} // closed when conn is withdrawn (UDP flows end then)

	wg sync.WaitGroup // accept loops, connection handlers, the supervisor
}

// newForwarder checks opts. It starts nothing.
func newForwarder(opts *PortForwardOptions, dial func(context.Context) (*podConn, error), log *slog.Logger) (*forwarder, error) {
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
	if f.tracker != nil {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.tracker.run(ctx, f.trackedRV)
		}()
	}
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
	for i, p := range f.ports {
		lns, bound, warnings, err := listenPort(p, f.addrs)
		for _, w := range warnings {
			f.events.emit(PortForwardEvent{Kind: EventListenWarning, Port: bound, Err: w})
		}
		if err != nil {
			f.events.emit(PortForwardEvent{Kind: EventListenFailed, Port: p, Err: err})
			continue
		}
		for j, l := range lns {
			lns[j].index = i
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
		go f.handle(ctx, nc, l)
	}
}

// setConn publishes conn as the live session and wakes waiting handlers.
func (f *forwarder) setConn(conn *podConn) {
	f.mu.Lock()
	f.conn = conn
	f.gone = make(chan struct{})
	close(f.up)
	f.mu.Unlock()
}

// dropConn withdraws the live session; handlers wait for the next one.
func (f *forwarder) dropConn() {
	f.mu.Lock()
	f.conn = nil
	f.up = make(chan struct{})
	if f.gone != nil {
		close(f.gone)
		f.gone = nil
	}
	f.mu.Unlock()
}

// session returns the live session, waiting through a reconnection, with a
// reference the caller releases when its connection ends.
func (f *forwarder) session(ctx context.Context) (*podConn, error) {
	for {
		f.mu.Lock()
		conn, up := f.conn, f.up
		if conn != nil {
			conn.refs.Add(1)
		}
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
// connections on it fail and close) and replaced; when, following a
// target, its pod goes away, it is replaced by a session to the next pod
// and closed once its last connection ends; when ctx ends it is closed.
func (f *forwarder) supervise(ctx context.Context, conn *podConn) {
	defer f.wg.Done()
	for {
		gone, ok := f.await(ctx, conn)
		if !ok {
			_ = conn.Close()
			return
		}
		f.dropConn()
		if gone == "" {
			f.log.Info("port-forward session lost", "err", conn.Err())
			_ = conn.Abort("lost connection to pod")
			f.events.emit(PortForwardEvent{Kind: EventSessionLost})
		} else {
			f.log.Info("port-forward pod gone", "pod", conn.pod, "reason", gone)
			f.events.emit(PortForwardEvent{Kind: EventPodGone, Pod: conn.pod, Message: gone})
			conn.release()
		}
		prev, prevUID := conn.pod, conn.uid
		if conn = f.reconnect(ctx); conn == nil {
			return
		}
		if conn.pod != prev || conn.uid != prevUID {
			f.events.emit(PortForwardEvent{Kind: EventPodSwitched, Pod: conn.pod})
		} else {
			f.events.emit(PortForwardEvent{Kind: EventReconnected})
		}
		f.setConn(conn)
	}
}

// await waits until conn's session ends (""), its pod goes away (why), or
// ctx ends (false).
func (f *forwarder) await(ctx context.Context, conn *podConn) (string, bool) {
	for {
		var changed <-chan struct{}
		if f.tracker != nil {
			_, changed = f.tracker.state()
			if why := f.tracker.goneReason(conn.pod, conn.uid); why != "" {
				return why, true
			}
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-conn.Done():
			return "", true
		case <-changed:
		}
	}
}

// reconnect dials until it gets a session or ctx ends (nil). A failure is
// printed when its text differs from the previous one, so a long outage
// does not flood the terminal.
func (f *forwarder) reconnect(ctx context.Context) *podConn {
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

// podConn is a session to one pod: the SPDY connection, the pod it
// reaches, and each forward's remote port there. It is closed when its
// references are gone: the forwarder's own, dropped when it follows the
// target to another pod, and one per forwarded connection.
type podConn struct {
	*spdy.Conn
	pod, uid string   // "" when the forward does not follow a target
	remotes  []uint16 // by forward index; nil keeps the ports as given
	refs     atomic.Int64
}

func newPodConn(conn *spdy.Conn, pod, uid string, remotes []uint16) *podConn {
	pc := &podConn{Conn: conn, pod: pod, uid: uid, remotes: remotes}
	pc.refs.Store(1)
	return pc
}

// release drops one reference, closing the session with the last.
func (pc *podConn) release() {
	if pc.refs.Add(-1) == 0 {
		_ = pc.Close()
	}
}

// remote is forward i's port on this session's pod.
func (pc *podConn) remote(i int, port ForwardedPort) ForwardedPort {
	if i < len(pc.remotes) {
		port.Remote = pc.remotes[i]
	}
	return port
}

// closeWriter is the half-close of a local TCP (or Unix) connection.
type closeWriter interface{ CloseWrite() error }

var _ closeWriter = (*net.TCPConn)(nil)
