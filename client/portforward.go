package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/transport/spdy"
)

// tunnelPingPeriod is client-go's SPDY ping period inside the port-forward
// tunnel (PROTOCOL.md section 7); plain SPDY pings every 5 s.
const tunnelPingPeriod = 10 * time.Second

// ForwardedPort is one forward: connections to Local on this machine reach
// Remote in the pod. Local 0 picks a free port. Protocol is TCP unless set
// to ProtocolUDP (porthole's extension, see portforward_udp.go).
type ForwardedPort struct {
	Local, Remote uint16
	Protocol      Protocol
}

// PortForwardOptions configure PortForward. Namespace (default "default"),
// Pod and at least one port are required; the rest may be zero.
type PortForwardOptions struct {
	Namespace, Pod string
	Ports          []ForwardedPort
	// Addresses to listen on: IP addresses or "localhost", which means both
	// 127.0.0.1 and ::1 and needs only one of them to bind (like kubectl).
	// Default "localhost". An explicit address that cannot be bound fails
	// its port; a port none of whose addresses bind is skipped with a
	// message, and PortForward fails only when no port could be bound.
	Addresses []string
	// Ready, if set, is called once every listener is up, with the ports
	// actually bound (Local filled in where it was 0; ports that could not be
	// bound left out). It runs on PortForward's goroutine: return promptly.
	Ready func(ports []ForwardedPort)
	// Events, when set, is told what happens as it happens: the addresses
	// bound, each connection, per-connection errors, a lost session and its
	// reconnection (kubectl prints these; PrintEvents does so). Calls come
	// one at a time, in order, from PortForward's goroutines: return
	// promptly.
	Events func(PortForwardEvent)
	// Wire overrides Config.Wire: WireAuto tunnels SPDY through a WebSocket
	// (SPDY/3.1+portforward.k8s.io) and falls back to plain SPDY when that
	// upgrade fails, like kubectl 1.31+.
	Wire Wire
	// UDPIdleTimeout ends a UDP port's flow (one local peer's datagrams
	// and their replies) after this long without a datagram either way.
	// Default DefaultUDPIdleTimeout.
	UDPIdleTimeout time.Duration
	// Follow, when set, makes the forward follow its target across pod
	// replacement (see FollowOptions); Pod is then the first pod used and
	// may be empty.
	Follow *FollowOptions
}

// PortForward listens on the local ports and forwards every accepted TCP
// connection (and, for a UDP port, every local peer's datagrams: see
// ProtocolUDP) to the pod over one SPDY session (portforward.k8s.io, plain
// or tunnelled), until ctx ends; then it closes the listeners and the session,
// waits for every connection it forwarded to end and returns nil.
//
// Per connection it opens an error stream and a data stream (PROTOCOL.md
// section 5), copies both ways with half-close (local EOF becomes a FIN on
// the data stream; the pod's FIN half-closes the local socket) and reads the
// error stream to its end. An error from the pod (nothing listening on the
// remote port, say) closes that connection only and is reported as an event;
// kubectl would end its whole session.
//
// All connections share one SPDY session, and SPDY has no per-stream flow
// control (transport/spdy's package doc): a local reader that stops reading
// holds up the connections whose streams share its spdystream worker, then
// the whole session, until it reads again. Memory stays bounded; nothing is
// buffered on its behalf.
//
// The first connection to the server must succeed: its error is returned
// (an *UpgradeError when the server refused). Once forwarding, a lost
// session (server restart, network failure) does not end PortForward: the
// listeners stay open, it reconnects with jittered exponential backoff
// (capped at 30 s), saying so on ErrOut, and connections accepted meanwhile
// wait for the new session.
func (c *Client) PortForward(ctx context.Context, opts *PortForwardOptions) error {
	if opts == nil || (opts.Pod == "" && opts.Follow == nil) {
		return errors.New("port-forward: no pod")
	}
	ns := opts.Namespace
	if ns == "" {
		ns = "default"
	}
	wire := opts.Wire
	if wire == WireAuto {
		wire = c.cfg.Wire
	}
	udp := wantsUDP(opts.Ports)
	dialPod := func(ctx context.Context, pod string) (*spdy.Conn, error) {
		target := c.url("/api/v1/namespaces/"+url.PathEscape(ns)+"/pods/"+url.PathEscape(pod)+"/portforward", nil)
		return c.dialPortForward(ctx, target, wire, udp)
	}
	dial := func(ctx context.Context) (*podConn, error) {
		conn, err := dialPod(ctx, opts.Pod)
		if err != nil {
			return nil, err
		}
		return newPodConn(conn, "", "", nil), nil
	}
	var tracker *podTracker
	var rv string
	if fo := opts.Follow; fo != nil {
		if fo.Resolved == nil || fo.Resolved.Pod == nil {
			return errors.New("port-forward: following needs a resolved target")
		}
		if len(fo.PortSpecs) != 0 && len(fo.PortSpecs) != len(opts.Ports) {
			return errors.New("port-forward: following needs one port argument per port")
		}
		tracker = newPodTracker(c, ns, fo.Resolved, fo.PollInterval, c.log)
		var err error
		if rv, err = tracker.sync(ctx); err != nil {
			return fmt.Errorf("port-forward: list the pods to follow: %w", err)
		}
		dial = c.followDial(fo, tracker, dialPod)
	}
	f, err := newForwarder(opts, dial, c.log)
	if err != nil {
		return err
	}
	f.tracker, f.trackedRV = tracker, rv
	return f.run(ctx)
}

// followDial dials the target's first pod, then on every later call the
// pod the tracker picks, with the ports mapped onto that pod.
func (c *Client) followDial(fo *FollowOptions, tr *podTracker, dialPod func(context.Context, string) (*spdy.Conn, error)) func(context.Context) (*podConn, error) {
	var first sync.Once
	return func(ctx context.Context) (*podConn, error) {
		var pod *kube.Pod
		first.Do(func() { pod = fo.Resolved.Pod })
		if pod == nil {
			var err error
			if pod, err = tr.pick(ctx); err != nil {
				return nil, err
			}
		}
		var remotes []uint16
		if len(fo.PortSpecs) > 0 {
			r := *fo.Resolved
			r.Pod = pod
			ports, err := r.ForwardedPorts(fo.PortSpecs)
			if err != nil {
				return nil, fmt.Errorf("pod %s: %w", pod.Name, err)
			}
			for _, p := range ports {
				remotes = append(remotes, p.Remote)
			}
		}
		conn, err := dialPod(ctx, pod.Name)
		if err != nil {
			return nil, err
		}
		return newPodConn(conn, pod.Name, pod.UID, remotes), nil
	}
}

// dialPortForward opens one port-forward session on wire: the tunnel first,
// then plain SPDY when the tunnel's upgrade failed (WireAuto). With udp
// the session must speak porthole's UDP extension: a tunnel without it
// (an API server's tunnel drops the name) is given up for plain SPDY
// (WireAuto), and a server without it is ErrUDPUnsupported.
func (c *Client) dialPortForward(ctx context.Context, target string, wire Wire, udp bool) (*spdy.Conn, error) {
	offer := portForwardOffer(udp)
	if wire != WireSPDY {
		nc, err := c.dialTunnel(ctx, target, offer)
		if err == nil {
			// No lingering close inside the tunnel: the pipe has no
			// half-close, so the server's own lingering close and ours
			// would wait for each other until the deadline. Closing the
			// WebSocket (close 1000, after every byte we wrote) is the
			// graceful end, as with client-go's gorilla connection.
			conn, err := spdy.NewClient(nc, tunnelProtocol(nc), &spdy.DialOptions{
				PingPeriod: tunnelPingPeriod, Linger: -1, Logger: c.log})
			if err != nil {
				return nil, fmt.Errorf("port-forward tunnel: %w", err)
			}
			if conn, err = requireUDP(conn, udp); err == nil || wire == WireWebSocket {
				return conn, err
			}
			c.log.InfoContext(ctx, "port-forward tunnel without UDP, trying SPDY")
		}
		if err != nil && (wire == WireWebSocket || !isUpgradeFailure(err)) {
			return nil, err
		}
		if err != nil {
			c.log.InfoContext(ctx, "port-forward tunnel refused, falling back to SPDY", "err", err)
		}
	}
	conn, err := c.dialSPDY(ctx, target, offer)
	if err != nil {
		return nil, err
	}
	return requireUDP(conn, udp)
}

// discardLogger is the logger of a forwarder given none.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
