package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
)

// Protocol is a forwarded port's transport protocol, as a Kubernetes
// container port names it. The zero value is TCP.
type Protocol string

// Protocols a port may be forwarded with.
const (
	ProtocolTCP Protocol = "TCP"
	// ProtocolUDP is porthole's extension (protocol/portforward's udp.go):
	// only a porthole node forwards UDP; with any other server PortForward
	// fails with ErrUDPUnsupported.
	ProtocolUDP Protocol = "UDP"
)

// ErrUDPUnsupported: the server negotiated plain portforward.k8s.io
// although UDP was asked for, as the kubelet and older porthole nodes do.
var ErrUDPUnsupported = errors.New("the server does not support UDP port-forward (porthole's extension); only TCP ports can be forwarded")

// DefaultUDPIdleTimeout is how long a UDP flow lives without a datagram
// either way, by default: conntrack's timeout for an answered UDP flow is
// 120 s, for an unanswered one 30 s.
const DefaultUDPIdleTimeout = 60 * time.Second

// Limits of a bound UDP port. Datagrams beyond them are dropped at the
// local socket and counted (EventDatagramsDropped), as a busy UDP socket
// drops them: nothing is buffered without bound.
const (
	// maxUDPFlows is the number of local peers a bound UDP port serves at
	// once; datagrams from further peers are dropped until a flow expires.
	// Each flow holds a stream pair here and a socket on the node. A DNS
	// client uses a new source port per query, so a busy one wants a
	// shorter UDPIdleTimeout rather than more flows.
	maxUDPFlows = 256
	// udpQueueLen and udpQueueBytes bound the datagrams of one flow that
	// wait for the server (while the flow's streams open, or while the
	// session is slow).
	udpQueueLen   = 64
	udpQueueBytes = 256 << 10
	// udpEndGrace bounds the wait for the server to end a flow we ended.
	udpEndGrace = 5 * time.Second
)

// isUDP reports whether p is forwarded as UDP.
func (p ForwardedPort) isUDP() bool {
	return strings.EqualFold(string(p.Protocol), string(ProtocolUDP))
}

// checkProtocol accepts "", TCP and UDP (any case).
func checkProtocol(p ForwardedPort) error {
	switch strings.ToUpper(string(p.Protocol)) {
	case "", string(ProtocolTCP), string(ProtocolUDP):
		return nil
	}
	return fmt.Errorf("port-forward: unsupported protocol %q (TCP or UDP)", p.Protocol)
}

// wantsUDP reports whether any port is UDP.
func wantsUDP(ports []ForwardedPort) bool {
	for _, p := range ports {
		if p.isUDP() {
			return true
		}
	}
	return false
}

// portForwardOffer is the SPDY protocols offered: kubectl's alone for TCP,
// the UDP extension first when a port is UDP.
func portForwardOffer(udp bool) []string {
	if udp {
		return []string{portforward.UDPName, portforward.Name}
	}
	return []string{portforward.Name}
}

// requireUDP returns conn when UDP was not wanted or was negotiated, and
// otherwise aborts it (nothing was sent on it, and a graceful close would
// linger on a server that does not hang up) and returns ErrUDPUnsupported.
func requireUDP(conn *spdy.Conn, udp bool) (*spdy.Conn, error) {
	if !udp || conn.Protocol() == portforward.UDPName {
		return conn, nil
	}
	_ = conn.Abort("the server negotiated " + conn.Protocol() + ", without UDP")
	return nil, ErrUDPUnsupported
}

// tunnelProtocol is the SPDY protocol a dialled tunnel negotiated.
func tunnelProtocol(nc net.Conn) string {
	if t, ok := nc.(interface{ Protocol() string }); ok && t.Protocol() != "" {
		return t.Protocol()
	}
	return portforward.Name
}

// bindUDP binds port's UDP socket on a.
func bindUDP(a listenAddr, port ForwardedPort) (portListener, uint16, error) {
	network := "udp" + strings.TrimPrefix(a.network, "tcp")
	addr, err := net.ResolveUDPAddr(network, net.JoinHostPort(a.host, fmt.Sprint(port.Local)))
	if err != nil {
		return portListener{}, 0, err
	}
	pc, err := net.ListenUDP(network, addr)
	if err != nil {
		return portListener{}, 0, err
	}
	return portListener{pc: pc, port: port}, uint16(pc.LocalAddr().(*net.UDPAddr).Port), nil
}

// udpRelay serves one bound UDP socket: one flow, that is one stream
// pair, per local peer address, so that each peer gets its own replies.
type udpRelay struct {
	f     *forwarder
	pc    *net.UDPConn
	port  ForwardedPort
	index int // of the forward in PortForwardOptions.Ports

	mu      sync.Mutex // guards flows, refused and each flow's retired and gone; never held across I/O
	flows   map[netip.AddrPort]*udpFlow
	refused bool // the flow limit is refusing peers (reported once)

	wg sync.WaitGroup // the flows
}

// serveUDP relays l's datagrams until ctx ends, then closes l and waits
// for its flows to end.
func (f *forwarder) serveUDP(ctx context.Context, l portListener) {
	defer f.wg.Done()
	r := &udpRelay{f: f, pc: l.pc, port: l.port, index: l.index, flows: make(map[netip.AddrPort]*udpFlow)}
	stop := context.AfterFunc(ctx, func() { _ = l.pc.Close() })
	defer stop()
	r.readLoop(ctx)
	_ = l.pc.Close()
	r.wg.Wait()
}

// readLoop hands each local datagram to its peer's flow, starting one
// when needed, until the socket fails or closes.
func (r *udpRelay) readLoop(ctx context.Context) {
	// One byte more than a datagram may carry, to see the ones that are
	// too large (IPv6 allows 65527 bytes on loopback).
	buf := make([]byte, portforward.MaxDatagram+1)
	for {
		n, peer, err := r.pc.ReadFromUDPAddrPort(buf)
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
			// An earlier reply's peer had gone: some systems (Windows)
			// report that on the shared socket. It ends nothing.
			continue
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				r.f.events.emit(PortForwardEvent{Kind: EventAcceptFailed, Port: r.port, Err: err})
			}
			return
		}
		if n > portforward.MaxDatagram {
			r.f.events.emit(PortForwardEvent{Kind: EventDatagramsDropped, Port: r.port, Addr: net.UDPAddrFromAddrPort(peer), Dropped: 1,
				Err: portforward.ErrDatagramTooLarge})
			continue
		}
		r.deliver(ctx, peer, buf[:n])
	}
}

// deliver queues a copy of p on peer's flow, or drops it.
func (r *udpRelay) deliver(ctx context.Context, peer netip.AddrPort, p []byte) {
	r.mu.Lock()
	fl := r.flows[peer]
	if fl != nil && fl.withdrawn() {
		// Its session is gone (lost, or its pod when following): this
		// datagram starts a flow on the next one rather than wait for the
		// old flow to notice.
		r.retireLocked(fl)
		fl = nil
	}
	if fl == nil {
		if len(r.flows) >= maxUDPFlows {
			first := !r.refused
			r.refused = true
			r.mu.Unlock()
			if first {
				r.f.events.emit(PortForwardEvent{Kind: EventDatagramsDropped, Port: r.port, Addr: net.UDPAddrFromAddrPort(peer), Dropped: 1,
					Err: fmt.Errorf("%d UDP flows are active, the most a port serves", maxUDPFlows)})
			}
			return
		}
		r.refused = false
		fl = newUDPFlow(r, peer)
		r.flows[peer] = fl
		r.wg.Add(1)
		go fl.run(ctx)
	}
	fl.enqueue(p)
	r.mu.Unlock()
}

// retire takes fl out of service: later datagrams of its peer start a new
// flow, and its queue is closed so its sender ends once drained.
func (r *udpRelay) retire(fl *udpFlow) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retireLocked(fl)
}

// retireLocked is retire with r.mu held.
func (r *udpRelay) retireLocked(fl *udpFlow) {
	if r.flows[fl.peer] == fl {
		delete(r.flows, fl.peer)
	}
	if !fl.retired {
		fl.retired = true
		close(fl.queue)
	}
}

// udpFlow is one local peer's datagrams and their replies over a stream
// pair.
type udpFlow struct {
	r    *udpRelay
	peer netip.AddrPort

	queue   chan []byte // datagrams for the server; closed by retire
	retired bool        // guarded by r.mu
	// gone is closed when the flow's session is withdrawn; nil until the
	// flow has one. Guarded by r.mu.
	gone    <-chan struct{}
	queued  atomic.Int64
	dropped atomic.Uint64
	// idle is touched by every datagram either way and closes expired.
	idle    *idle.Timer
	expired chan struct{}
}

func newUDPFlow(r *udpRelay, peer netip.AddrPort) *udpFlow {
	fl := &udpFlow{r: r, peer: peer, queue: make(chan []byte, udpQueueLen), expired: make(chan struct{})}
	fl.idle = idle.New(r.f.udpIdle, func() { close(fl.expired) })
	return fl
}

// withdrawn reports whether the flow's session was withdrawn. Called with
// r.mu held.
func (fl *udpFlow) withdrawn() bool {
	if fl.gone == nil {
		return false
	}
	select {
	case <-fl.gone:
		return true
	default:
		return false
	}
}

// enqueue queues a copy of p, or drops it when the queue is full. Called
// with r.mu held, on a flow not retired.
func (fl *udpFlow) enqueue(p []byte) {
	if fl.queued.Load()+int64(len(p)) > udpQueueBytes {
		fl.dropped.Add(1)
		return
	}
	select {
	case fl.queue <- append([]byte(nil), p...):
		fl.queued.Add(int64(len(p)))
		fl.idle.Touch()
	default:
		fl.dropped.Add(1)
	}
}

// run opens the flow's streams on the live session and relays until the
// flow ends: idle for the forward's UDPIdleTimeout (we half-close, the
// server ends it), ended by the server (its own idle bound, or an error it
// reports), the session withdrawn (lost, or its pod gone when following:
// the peer's next datagram goes to the next session), or ctx.
func (fl *udpFlow) run(ctx context.Context) {
	r := fl.r
	defer r.wg.Done()
	defer fl.report()
	fl.idle.Start()
	defer fl.idle.Stop()
	r.f.events.emit(PortForwardEvent{Kind: EventConnection, Port: r.port, Addr: net.UDPAddrFromAddrPort(fl.peer)})
	conn, gone, err := r.f.udpSession(ctx)
	if err != nil { // ctx ended while reconnecting
		r.retire(fl)
		fl.drain()
		return
	}
	r.mu.Lock()
	fl.gone = gone
	r.mu.Unlock()
	defer conn.release()
	port := conn.remote(r.index, r.port)
	fc, msg, err := r.f.open(ctx, conn, nil, port)
	if err != nil || msg != "" {
		r.retire(fl)
		fl.drain()
		switch {
		case msg != "":
			r.f.events.emit(PortForwardEvent{Kind: EventRemoteError, Port: port, Message: msg})
		case ctx.Err() == nil:
			r.f.events.emit(PortForwardEvent{Kind: EventConnectionFailed, Port: port, Err: err})
		}
		return
	}
	if msg, err := fl.relay(ctx, fc, gone); err != nil {
		r.f.events.emit(PortForwardEvent{Kind: EventConnectionFailed, Port: port, Err: err})
	} else if msg != "" {
		r.f.events.emit(PortForwardEvent{Kind: EventRemoteError, Port: port, Message: msg})
	}
}

// udpSession is session, with the channel closed when that session is
// withdrawn.
func (f *forwarder) udpSession(ctx context.Context) (*podConn, <-chan struct{}, error) {
	for {
		f.mu.Lock()
		conn, up, gone := f.conn, f.up, f.gone
		if conn != nil {
			conn.refs.Add(1)
		}
		f.mu.Unlock()
		if conn != nil {
			return conn, gone, nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// relay runs the flow's sender, receiver and error reader and joins them.
func (fl *udpFlow) relay(ctx context.Context, fc *forwardedConn, gone <-chan struct{}) (string, error) {
	up, down, errc := make(chan error, 1), make(chan error, 1), make(chan errorResult, 1)
	go fl.send(fc.data, up)
	go fl.receive(fc.data, down)
	go fc.readErrors(errc)
	var (
		res                      errorResult
		failed                   error
		upDone, downDone, errsOK bool
		aborted                  bool
		grace                    <-chan time.Time
		graceTimer               *time.Timer
	)
	defer func() {
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()
	abort := func() {
		if !aborted {
			aborted = true
			fl.r.retire(fl)
			_ = fc.data.Reset()
		}
	}
	done, expired := ctx.Done(), fl.expired
	for !upDone || !downDone || !errsOK {
		select {
		case err := <-up:
			upDone = true
			if err != nil && !aborted {
				failed = fmt.Errorf("send datagram: %w", err)
				abort()
			}
		case err := <-down:
			downDone = true
			if err != nil && !aborted {
				failed = fmt.Errorf("receive datagram: %w", err)
			}
			// The server ended the flow (or it failed): stop sending.
			abort()
		case res = <-errc:
			errsOK = true
			if res.msg != "" || res.err != nil {
				abort()
			}
		case <-expired:
			// The sender half-closes once drained; the server then ends
			// the flow, or is cut off after udpEndGrace. A datagram that
			// came just as the flow expired is still sent, but its reply
			// may be lost: the server closes the flow's socket on our FIN.
			// The flow is retired before the report, so that a datagram
			// the peer sends once it has seen the report starts a new flow.
			expired = nil
			report := !aborted && grace == nil
			grace = fl.endGracefully(aborted, grace, &graceTimer)
			if report {
				fl.r.f.events.emit(PortForwardEvent{Kind: EventFlowExpired, Port: fl.r.port, Addr: net.UDPAddrFromAddrPort(fl.peer)})
			}
		case <-gone:
			// The session was withdrawn: end the flow the same way, so
			// the peer's next datagram starts one on the next session.
			gone = nil
			grace = fl.endGracefully(aborted, grace, &graceTimer)
		case <-grace:
			grace = nil
			abort() // the server did not end the flow in time
		case <-done:
			done = nil
			abort()
			_ = fc.errs.Reset()
		}
	}
	_ = fc.data.Reset()
	if res.err != nil && failed == nil && ctx.Err() == nil {
		failed = fmt.Errorf("read error stream: %w", res.err)
	}
	return res.msg, failed
}

// endGracefully retires the flow (its sender half-closes once drained)
// and starts the wait for the server's end, unless already started or the
// flow was aborted.
func (fl *udpFlow) endGracefully(aborted bool, grace <-chan time.Time, t **time.Timer) <-chan time.Time {
	fl.r.retire(fl)
	if aborted || grace != nil {
		return grace
	}
	*t = time.NewTimer(udpEndGrace)
	return (*t).C
}

// send frames each queued datagram onto data until the queue is closed,
// then half-closes data (the flow's end, to the server). After a failed
// write it discards the rest.
func (fl *udpFlow) send(data *spdy.Stream, done chan<- error) {
	var (
		frame []byte
		err   error
	)
	for p := range fl.queue {
		fl.queued.Add(-int64(len(p)))
		if err != nil {
			fl.dropped.Add(1)
			continue
		}
		frame, _ = portforward.AppendDatagram(frame[:0], p) // p <= MaxDatagram
		_, err = data.Write(frame)
	}
	if err == nil {
		err = data.CloseWrite()
	}
	done <- err
}

// receive sends each datagram the server framed to the peer. The server's
// FIN ends it with nil.
func (fl *udpFlow) receive(data *spdy.Stream, done chan<- error) {
	buf := make([]byte, portforward.MaxDatagram)
	for {
		n, err := portforward.ReadDatagram(data, buf)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, stream.ErrClosed) {
				err = nil
			}
			done <- err
			return
		}
		fl.idle.Touch()
		if _, err := fl.r.pc.WriteToUDPAddrPort(buf[:n], fl.peer); err != nil {
			fl.dropped.Add(1)
		}
	}
}

// drain discards what was queued for a flow that never opened.
func (fl *udpFlow) drain() {
	for p := range fl.queue {
		fl.queued.Add(-int64(len(p)))
		fl.dropped.Add(1)
	}
}

// report tells of the datagrams the flow dropped, if any.
func (fl *udpFlow) report() {
	if n := fl.dropped.Load(); n > 0 {
		fl.r.f.events.emit(PortForwardEvent{Kind: EventDatagramsDropped, Port: fl.r.port,
			Addr: net.UDPAddrFromAddrPort(fl.peer), Dropped: n})
	}
}

// suffix is "/udp" for a UDP port, as the forward's lines show it.
func (p ForwardedPort) suffix() string {
	if p.isUDP() {
		return "/udp"
	}
	return ""
}
