package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/porthole/porthole/client"
)

// PortholePortForwardThroughput is PortForwardThroughput with porthole's
// own client (client.PortForward) as the forwarder instead of client-go's.
// It dials the API-server style path on both nodes: on the reference, plain
// SPDY goes through the front's upgrade-aware proxy to cri-streaming (one
// more loopback hop than the client-go row, which dials the one-time URL).
func PortholePortForwardThroughput(ctx context.Context, n *Node, w PFWire, size int64) (Speed, error) {
	return pfThroughput(ctx, n, size, func(port int) (*forward, error) { return startPortholeForward(ctx, n, w, port) })
}

// startPortholeForward forwards a free 127.0.0.1 port to remotePort on n
// with porthole's client over w.
func startPortholeForward(ctx context.Context, n *Node, w PFWire, remotePort int) (*forward, error) {
	c, err := client.New(&client.Config{Host: n.URL})
	if err != nil {
		return nil, err
	}
	wire := client.WireWebSocket
	if w == PlainSPDY {
		wire = client.WireSPDY
	}
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan []client.ForwardedPort, 1)
	f := &forward{cancel: cancel, done: make(chan error, 1)}
	opts := &client.PortForwardOptions{
		Namespace: podNamespace, Pod: podName, Wire: wire, Addresses: []string{"127.0.0.1"},
		Ports: []client.ForwardedPort{{Remote: uint16(remotePort)}},
		Ready: func(p []client.ForwardedPort) { ready <- p },
	}
	go func() { f.done <- c.PortForward(ctx, opts) }()
	select {
	case p := <-ready:
		f.local = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p[0].Local)))
		return f, nil
	case err := <-f.done:
		cancel()
		return nil, fmt.Errorf("porthole port-forward: %w", err)
	}
}

// LoopbackThroughput reads size bytes from a loopback TCP source straight,
// with no forwarder: the ceiling of every port-forward row on this machine.
func LoopbackThroughput(size int64) (float64, error) {
	src, err := startLocal(zeroSource(size))
	if err != nil {
		return 0, err
	}
	defer src.close()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(src.port())))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	got, err := io.Copy(io.Discard, c)
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if got != size {
		return 0, fmt.Errorf("loopback: got %d bytes, want %d", got, size)
	}
	return float64(size) / elapsed.Seconds() / 1e6, nil
}
