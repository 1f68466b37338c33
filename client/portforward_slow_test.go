package client

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"

	"golang.org/x/sync/errgroup"
)

// source sends n zero bytes, half-closes and waits for the peer's EOF.
func source(n int64) func(net.Conn) {
	return func(c net.Conn) {
		_, _ = io.CopyN(c, zeroReader{}, n)
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestPortForwardFrozenReader: a local reader that stops reading while
// the pod sends 64 MiB, with more connections of the same session
// transferring meanwhile. Whatever those others wait for, nothing
// deadlocks: once the frozen reader reads again, every connection gets
// every byte, on both wires.
func TestPortForwardFrozenReader(t *testing.T) {
	const big, small = 64 << 20, 1 << 20
	base := startPFNode(t, nil)
	bigPort, smallPort := tcpServer(t, source(big)), tcpServer(t, source(small))
	for _, w := range []Wire{WireWebSocket, WireSPDY} {
		t.Run(wireName(w), func(t *testing.T) {
			c := newTestClient(t, base)
			_, ports := startForward(t, c.PortForward, &PortForwardOptions{Pod: "p", Wire: w, Addresses: []string{"127.0.0.1"},
				Ports: []ForwardedPort{{Remote: bigPort}, {Remote: smallPort}}})
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			frozen, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(ports[0].Local)))
			if err != nil {
				t.Fatal(err)
			}
			defer frozen.Close()
			stop := context.AfterFunc(ctx, func() { frozen.Close() })
			defer stop()
			// The frozen connection's first byte proves its stream flows
			// before the others start; then it stops reading.
			if _, err := io.ReadFull(frozen, make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			g, gctx := errgroup.WithContext(ctx)
			for i := range 5 {
				g.Go(func() error {
					got, err := roundTrip(gctx, "127.0.0.1:"+strconv.Itoa(int(ports[1].Local)), nil)
					if err == nil && len(got) != small {
						t.Errorf("connection %d: got %d bytes, want %d", i, len(got), small)
					}
					return err
				})
			}
			// Thaw: the frozen reader reads the rest.
			n, err := io.Copy(io.Discard, frozen)
			if err != nil || n != big-1 {
				t.Fatalf("frozen reader: got %d bytes (err %v), want %d", n, err, big-1)
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
