package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/porthole/porthole/interop/criref"
)

// PFWire is the protocol of a client-go port-forward session.
type PFWire int

const (
	// Tunnel is SPDY inside a WebSocket (SPDY/3.1+portforward.k8s.io),
	// kubectl's first choice since 1.31.
	Tunnel PFWire = iota
	// PlainSPDY is the portforward.k8s.io SPDY upgrade, kubectl's fallback.
	PlainSPDY
)

// PFWires lists the port-forward wires in table order.
func PFWires() []PFWire { return []PFWire{Tunnel, PlainSPDY} }

func (w PFWire) String() string {
	if w == Tunnel {
		return "WS tunnel"
	}
	return "SPDY"
}

// portForwardURL is where client-go dials for w: the API-server style
// path on both nodes, except plain SPDY on the reference, which goes to a
// one-time cri-streaming URL (as the exec SPDY row does).
func (n *Node) portForwardURL(ctx context.Context, w PFWire, port int) (string, error) {
	if w == PlainSPDY && n.mintDirect != nil {
		body, err := json.Marshal(&runtimeapi.PortForwardRequest{PodSandboxId: podNamespace + "/" + podName, Port: []int32{int32(port)}})
		if err != nil {
			return "", err
		}
		var resp criref.URLResponse
		if err := postJSON(ctx, n.URL+"/criref/portforward", body, &resp); err != nil {
			return "", fmt.Errorf("mint port-forward url: %w", err)
		}
		return resp.URL, nil
	}
	return fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s/portforward", n.URL, podNamespace, podName), nil
}

// pfDialer builds client-go's dialer for w, as kubectl does.
func pfDialer(w PFWire, n *Node, raw string) (httpstream.Dialer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse port-forward url: %w", err)
	}
	cfg := &rest.Config{Host: n.URL}
	if w == Tunnel {
		return portforward.NewSPDYOverWebsocketDialer(u, cfg)
	}
	rt, up, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	return spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", u), nil
}

// forward is a running client-go PortForwarder.
type forward struct {
	local  string // 127.0.0.1:port to connect to
	cancel context.CancelFunc
	done   chan error
}

// startForward forwards a local port to remotePort on n over w.
func startForward(ctx context.Context, n *Node, w PFWire, remotePort int) (*forward, error) {
	raw, err := n.portForwardURL(ctx, w, remotePort)
	if err != nil {
		return nil, err
	}
	d, err := pfDialer(w, n, raw)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(ctx, d, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(remotePort)}, ready, io.Discard, io.Discard)
	if err != nil {
		cancel()
		return nil, err
	}
	f := &forward{cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-f.done:
		cancel()
		return nil, fmt.Errorf("forward ports: %w", err)
	}
	ports, err := pf.GetPorts()
	if err != nil {
		_ = f.stop()
		return nil, err
	}
	f.local = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
	return f, nil
}

// stop ends the forwarder and waits for it.
func (f *forward) stop() error {
	f.cancel()
	return <-f.done
}

// localServer is a loopback TCP server the nodes forward to; each
// connection runs handle. close joins every goroutine.
type localServer struct {
	l      net.Listener
	handle func(*net.TCPConn)
	wg     sync.WaitGroup
}

func startLocal(handle func(*net.TCPConn)) (*localServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &localServer{l: l, handle: handle}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func (s *localServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.serveConn(c.(*net.TCPConn))
	}
}

func (s *localServer) serveConn(c *net.TCPConn) {
	defer s.wg.Done()
	defer c.Close()
	s.handle(c)
}

func (s *localServer) port() int { return s.l.Addr().(*net.TCPAddr).Port }

func (s *localServer) close() {
	_ = s.l.Close()
	s.wg.Wait()
}

// zeroSource sends size zero bytes, half-closes, and waits for the peer to
// finish.
func zeroSource(size int64) func(*net.TCPConn) {
	return func(c *net.TCPConn) {
		buf := make([]byte, 32<<10)
		for left := size; left > 0; {
			n := min(left, int64(len(buf)))
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
			left -= n
		}
		_ = c.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	}
}

// echo copies the connection back to itself, then half-closes.
func echo(c *net.TCPConn) {
	_, _ = io.Copy(c, c)
	_ = c.CloseWrite()
}

// PortForwardThroughput forwards to a local source of size bytes and
// returns MB/s from connect to EOF, failing unless exactly size bytes came.
// The forwarder's session is set up before the clock starts.
func PortForwardThroughput(ctx context.Context, n *Node, w PFWire, size int64) (Speed, error) {
	return pfThroughput(ctx, n, size, func(port int) (*forward, error) { return startForward(ctx, n, w, port) })
}

// pfThroughput is PortForwardThroughput with the forwarder start supplied.
func pfThroughput(ctx context.Context, n *Node, size int64, startFwd func(port int) (*forward, error)) (Speed, error) {
	src, err := startLocal(zeroSource(size))
	if err != nil {
		return Speed{}, err
	}
	defer src.close()
	f, err := startFwd(src.port())
	if err != nil {
		return Speed{}, err
	}
	cpu0, cpuErr := n.CPU()
	start := time.Now()
	got, err := readAll(f.local)
	elapsed := time.Since(start)
	cpu1, cpuErr2 := n.CPU()
	err = errors.Join(err, f.stop())
	if err != nil {
		return Speed{}, fmt.Errorf("port-forward throughput: %w", err)
	}
	if got != size {
		return Speed{}, fmt.Errorf("port-forward throughput: got %d bytes, want %d", got, size)
	}
	return Speed{MBps: float64(size) / elapsed.Seconds() / 1e6, CPU: cpu1 - cpu0}, errors.Join(cpuErr, cpuErr2)
}

func readAll(addr string) (int64, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return io.Copy(io.Discard, c)
}

// PortForwardConnLatency opens runs connections through one forwarder
// (after 3 unmeasured warm-ups), each to an echo server, and returns the
// median time from connect to the echo of one byte: the cost of a new
// stream pair on an established session.
func PortForwardConnLatency(ctx context.Context, n *Node, w PFWire, runs int) (time.Duration, error) {
	srv, err := startLocal(echo)
	if err != nil {
		return 0, err
	}
	defer srv.close()
	f, err := startForward(ctx, n, w, srv.port())
	if err != nil {
		return 0, err
	}
	var times []time.Duration
	for i := -3; i < runs && err == nil; i++ {
		var d time.Duration
		d, err = echoOnce(f.local)
		if i >= 0 {
			times = append(times, d)
		}
	}
	if err = errors.Join(err, f.stop()); err != nil {
		return 0, fmt.Errorf("port-forward connection latency: %w", err)
	}
	return median(times), nil
}

// echoOnce connects, sends one byte, waits for it back, and closes.
func echoOnce(addr string) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Write([]byte{'x'}); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, fmt.Errorf("read echo: %w", err)
	}
	return time.Since(start), nil
}

// PortForwardIdleConns holds count forwarded connections open on one
// session (each confirmed by an echoed byte) and returns the server's RSS
// growth per connection; the session itself is set up before the baseline.
func PortForwardIdleConns(ctx context.Context, n *Node, w PFWire, count int) (float64, error) {
	srv, err := startLocal(echo)
	if err != nil {
		return 0, err
	}
	defer srv.close()
	f, err := startForward(ctx, n, w, srv.port())
	if err != nil {
		return 0, err
	}
	perConn, err := idleConns(f.local, n, count)
	if err = errors.Join(err, f.stop()); err != nil {
		return 0, fmt.Errorf("port-forward idle connections: %w", err)
	}
	return perConn, nil
}

func idleConns(addr string, n *Node, count int) (float64, error) {
	if _, err := echoOnce(addr); err != nil { // warm-up
		return 0, err
	}
	rss0, err := n.RSS()
	if err != nil {
		return 0, err
	}
	conns := make([]net.Conn, 0, count)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range count {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
		var b [1]byte
		if _, err := c.Write([]byte{'x'}); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return 0, fmt.Errorf("idle connection %d: read echo: %w", len(conns), err)
		}
	}
	rss1, err := n.RSS()
	if err != nil {
		return 0, err
	}
	return (float64(rss1) - float64(rss0)) / float64(count), nil
}
