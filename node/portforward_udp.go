package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/transport/spdy"
)

// portForwardProtocols are the SPDY names the node accepts for
// port-forward: porthole's UDP extension first when the runtime can dial
// UDP, so that a client offering it gets it (client preference decides,
// and only porthole's client offers it).
func (n *Node) portForwardProtocols() []string {
	if _, ok := n.rt.(UDPRuntime); ok {
		return []string{portforward.UDPName, portforward.Name}
	}
	return []string{portforward.Name}
}

// forwardUDP relays one UDP flow (a datagram pair, protocol/portforward's
// udp.go) between p's data stream and a socket connected to the pod's
// port, until the client half-closes the stream (its flow expired), the
// flow is idle for Options.UDPIdleTimeout, ctx ends, or either side fails.
// A failure is returned for the error stream: the pod's port refusing
// datagrams (ECONNREFUSED, nothing listens), or a frame longer than
// MaxDatagram. The data stream is ended on every path.
func (n *Node) forwardUDP(ctx context.Context, pod PodRef, p *pfPair) error {
	defer p.data.Reset()
	rt, ok := n.rt.(UDPRuntime)
	if !ok { // not negotiated without it; defensive
		return errors.New("the runtime cannot forward UDP")
	}
	conn, err := rt.DialUDP(ctx, pod, p.port)
	if err != nil {
		return err
	}
	f := &udpFlow{conn: conn, data: p.data, expired: make(chan struct{})}
	f.idle = idle.New(n.opts.UDPIdleTimeout, func() { close(f.expired) })
	f.idle.Start()
	defer f.idle.Stop()
	return f.run(ctx)
}

// udpFlow is one forwarded flow on the node: the pod's socket and the
// client's data stream.
type udpFlow struct {
	conn    net.Conn
	data    *spdy.Stream
	idle    *idle.Timer   // touched by every datagram either way
	expired chan struct{} // closed when idle expires
}

// run copies both ways until both copiers have returned.
func (f *udpFlow) run(ctx context.Context) error {
	toPod, fromPod := make(chan error, 1), make(chan error, 1)
	go f.copyToPod(toPod)
	go f.copyFromPod(fromPod)
	var (
		failed           error
		ended            bool // we ended the flow: later copy errors are ours
		upDone, downDone bool
	)
	done, expired := ctx.Done(), f.expired
	for !upDone || !downDone {
		select {
		case err := <-toPod:
			upDone = true
			if err != nil && !ended {
				failed = err
			}
			f.end(&ended, err == nil)
		case err := <-fromPod:
			downDone = true
			if err != nil && !ended {
				failed = err
			}
			f.end(&ended, false)
		case <-expired:
			expired = nil
			f.end(&ended, true)
		case <-done:
			done = nil
			f.end(&ended, false)
		}
	}
	return failed
}

// end closes the pod's socket and ends the data stream, once: gracefully
// (a FIN the client reads as the flow's end) or with a reset.
func (f *udpFlow) end(ended *bool, graceful bool) {
	if *ended {
		return
	}
	*ended = true
	_ = f.conn.Close()
	if graceful {
		_ = f.data.CloseWrite()
	}
	_ = f.data.Reset()
}

// copyToPod sends each datagram the client framed to the pod; the client's
// half-close ends it with nil.
func (f *udpFlow) copyToPod(done chan<- error) {
	buf := make([]byte, portforward.MaxDatagram)
	for {
		n, err := portforward.ReadDatagram(f.data, buf)
		if errors.Is(err, io.EOF) {
			done <- nil
			return
		}
		if err != nil {
			done <- fmt.Errorf("read datagram from client: %w", err)
			return
		}
		f.idle.Touch()
		if _, err := f.conn.Write(buf[:n]); err != nil {
			done <- fmt.Errorf("send datagram to port: %w", err)
			return
		}
	}
}

// copyFromPod frames each datagram the pod sends and writes it to the
// client. A client that does not read holds this copy up; the pod's
// further datagrams then queue in the socket's buffer, and the kernel drops
// what does not fit, as it would for a slow UDP reader.
func (f *udpFlow) copyFromPod(done chan<- error) {
	buf := make([]byte, portforward.MaxDatagram)
	frame := make([]byte, 0, portforward.DatagramHeaderLen+portforward.MaxDatagram)
	for {
		n, err := f.conn.Read(buf)
		if err != nil {
			done <- fmt.Errorf("receive datagram from port: %w", err)
			return
		}
		f.idle.Touch()
		frame, _ = portforward.AppendDatagram(frame[:0], buf[:n]) // n <= MaxDatagram
		if _, err := f.data.Write(frame); err != nil {
			done <- fmt.Errorf("write datagram to client: %w", err)
			return
		}
	}
}
