package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
)

// servePortForwardSPDY serves portforward.k8s.io (PROTOCOL.md 5): per
// forwarded TCP connection the client opens an error and a data stream
// sharing a requestid; each pair becomes one Runtime.PortForward. A failed
// forward is reported on its error stream and ends that pair only.
func (n *Node) servePortForwardSPDY(ctx context.Context, w http.ResponseWriter, r *http.Request, pod PodRef) {
	conn := n.upgradeSPDY(w, r, n.portForwardProtocols())
	if conn == nil {
		return
	}
	defer n.untrack(conn)
	n.servePortForwardConn(ctx, conn, pod)
}

// pfAcceptor is a SPDY connection's stream source (a *spdy.Conn).
type pfAcceptor interface {
	stream.Conn
	Protocol() string
	Accept(ctx context.Context) (*spdy.Stream, error)
}

// pfPair collects the two streams of one forwarded connection.
type pfPair struct {
	id       string
	port     uint16
	data     *spdy.Stream
	errs     *spdy.Stream
	deadline time.Time
	udp      bool // a datagram flow (protocol: UDP)
}

// servePortForwardConn accepts streams until conn ends, then closes conn.
func (n *Node) servePortForwardConn(ctx context.Context, conn pfAcceptor, pod PodRef) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		_ = conn.Close()
	}()
	pending := make(map[string]*pfPair)
	udpOK := conn.Protocol() == portforward.UDPName
	for {
		actx, acancel := n.acceptContext(ctx, pending)
		st, err := conn.Accept(actx)
		timedOut := actx.Err() != nil && ctx.Err() == nil && conn.Err() == nil
		acancel()
		if err != nil {
			if timedOut {
				n.expirePairs(pending)
				continue
			}
			return
		}
		p, err := n.addPortForwardStream(pending, st, udpOK)
		if err != nil {
			n.log.Info("port-forward stream refused", "err", err)
			_ = st.Reset()
			continue
		}
		if p.data != nil && p.errs != nil {
			delete(pending, p.id)
			wg.Add(1)
			go n.forward(ctx, pod, p, &wg)
		}
	}
}

// acceptContext bounds the next Accept by the earliest pending pair's deadline.
func (n *Node) acceptContext(ctx context.Context, pending map[string]*pfPair) (context.Context, context.CancelFunc) {
	var first time.Time
	for _, p := range pending {
		if first.IsZero() || p.deadline.Before(first) {
			first = p.deadline
		}
	}
	if first.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, first)
}

// expirePairs ends pairs whose second stream never came, as the kubelet does.
func (n *Node) expirePairs(pending map[string]*pfPair) {
	now := time.Now()
	for id, p := range pending {
		if now.Before(p.deadline) {
			continue
		}
		delete(pending, id)
		if p.errs != nil {
			_, _ = fmt.Fprintf(p.errs, "(request=%s) timed out waiting for streams", id)
			_ = p.errs.CloseWrite()
		}
		for _, s := range []*spdy.Stream{p.data, p.errs} {
			if s != nil {
				_ = s.Reset()
			}
		}
	}
}

// addPortForwardStream files st under its request ID (PROTOCOL.md 5). A
// stream marked UDP is accepted only in a session that negotiated UDP
// (udpOK), and both streams of a pair must agree.
func (n *Node) addPortForwardStream(pending map[string]*pfPair, st *spdy.Stream, udpOK bool) (*pfPair, error) {
	h := st.Headers()
	port, err := portforward.ParsePort(h.Get(portforward.HeaderPort))
	if err != nil {
		return nil, err
	}
	typ := strings.ToLower(h.Get(portforward.HeaderStreamType))
	id := portforward.PairID(h.Get(portforward.HeaderRequestID), st.ID(), typ)
	udp := portforward.IsUDP(h.Get(portforward.HeaderProtocol))
	if udp && !udpOK {
		return nil, fmt.Errorf("request %s: UDP stream in a session that did not negotiate %s", id, portforward.UDPName)
	}
	p := pending[id]
	if p == nil {
		p = &pfPair{id: id, port: port, udp: udp, deadline: time.Now().Add(n.opts.StreamCreationTimeout)}
		pending[id] = p
	}
	if p.udp != udp {
		return nil, fmt.Errorf("request %s: the pair's streams disagree on the protocol", id)
	}
	switch {
	case typ == portforward.StreamData && p.data == nil:
		p.data = st
	case typ == portforward.StreamError && p.errs == nil:
		p.errs = st
	case typ == portforward.StreamData || typ == portforward.StreamError:
		if p.errs != nil {
			_, _ = fmt.Fprintf(p.errs, "(request=%s) received a second %s stream", id, typ)
		}
		return nil, fmt.Errorf("request %s: duplicate %s stream", id, typ)
	default:
		return nil, fmt.Errorf("request %s: unknown stream type %q", id, typ)
	}
	return p, nil
}

// forward runs one forwarded connection: the runtime copies both ways with
// half-close; a failure is written to the error stream in the kubelet's words.
func (n *Node) forward(ctx context.Context, pod PodRef, p *pfPair, wg *sync.WaitGroup) {
	defer wg.Done()
	var err error
	if p.udp {
		err = n.forwardUDP(ctx, pod, p)
	} else {
		err = n.rt.PortForward(ctx, pod, p.port, resettingStream{p.data})
	}
	if err != nil && ctx.Err() == nil {
		msg := portforward.ErrorMessage(p.port, pod.Name, pod.UID, err)
		if _, werr := p.errs.Write([]byte(msg)); werr != nil && !errors.Is(werr, stream.ErrClosed) {
			n.log.Debug("write port-forward error", "err", werr)
		}
		_ = p.errs.Reset()
		return
	}
	_ = p.errs.CloseWrite()
}

// resettingStream gives a stream the Close the runtime calls when it is done
// with it: a reset, harmless once both directions have ended. It embeds the
// concrete stream so io.Copy still finds its WriteTo, which holds no buffer
// while the connection is idle, and has a ReadFrom of its own.
type resettingStream struct{ *spdy.Stream }

func (s resettingStream) Close() error { return s.Reset() }

// pfReadSize is how much of the pod's bytes one read takes: four DATA
// frames of 32 KiB.
const pfReadSize = 128 << 10

// pfPool lends ReadFrom its buffers only while bytes move.
var pfPool = pump.NewPool(pfReadSize)

// ReadFrom copies the pod's side r to the stream until EOF (io.Copy uses
// it). Like spdy.Stream.ReadFrom it holds no buffer while r is idle, but a
// read takes up to 128 KiB (Write cuts it into 32 KiB frames) and r is
// polled for readiness only after a short read: a bulk transfer costs one
// read syscall per 128 KiB and no poll, where it cost a poll and a read per
// 32 KiB (a tenth of the node's CPU on a port-forward bench, in poll).
func (s resettingStream) ReadFrom(r io.Reader) (int64, error) {
	return pump.Copy(r, pfPool, 0, pfReadSize, func(p []byte) error {
		_, err := s.Stream.Write(p)
		return err
	})
}
