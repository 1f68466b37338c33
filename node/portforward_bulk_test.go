package node_test

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/portforward"
)

// TestPortForwardBulkAndIdle: a forwarded connection carries several MiB
// of the pod's bytes whole and in order (reads of up to 128 KiB cut into
// DATA frames), and while the pod's side is quiet between two bursts the
// node holds no read buffer for it.
func TestPortForwardBulkAndIdle(t *testing.T) {
	const burst = 3<<20 + 12345
	payload := make([]byte, 2*burst)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	port := streamtest.TCPServer(t, func(c net.Conn) {
		defer c.Close()
		if _, err := c.Write(payload[:burst]); err != nil {
			return
		}
		var go1 [1]byte // the client says when to send the second burst
		if _, err := io.ReadFull(c, go1[:]); err != nil {
			return
		}
		_, _ = c.Write(payload[burst:])
	})
	base := startUDPNode(t, false, node.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := dialUDPSession(ctx, t, base, portforward.Name)
	gets := node.PFBufferGets()
	data, errs := udpPair(ctx, t, conn, 1, port, false)
	got := make([]byte, 0, len(payload))
	buf := make([]byte, 64<<10)
	for len(got) < burst {
		n, err := data.Read(buf)
		if err != nil {
			t.Fatalf("read first burst after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	// The pod's side is quiet now: its copier must be parked without a
	// buffer. It may still be finishing its last write; give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for node.PFBuffersInUse() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := node.PFBuffersInUse(); n != 0 {
		t.Errorf("%d read buffers held by an idle forwarded connection, want 0", n)
	}
	if node.PFBufferGets() == gets {
		t.Error("the pod's bytes did not go through the port-forward read buffers")
	}
	if _, err := data.Write([]byte{'!'}); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(data)
	if err != nil {
		t.Fatalf("read second burst: %v", err)
	}
	got = append(got, rest...)
	if len(got) != len(payload) || sha256.Sum256(got) != sha256.Sum256(payload) {
		t.Fatalf("got %d bytes (sha256 %x), want %d (%x)", len(got), sha256.Sum256(got), len(payload), sha256.Sum256(payload))
	}
	if e, err := io.ReadAll(errs); err != nil || len(e) != 0 {
		t.Errorf("error stream: %q, %v", e, err)
	}
}
