package client

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestPortForwardUploadIdle: a burst of local bytes reaches the pod whole
// through copyUp's buffers, and while the local side is quiet after it the
// forwarded connection holds none of them.
func TestPortForwardUploadIdle(t *testing.T) {
	base := startPFNode(t, nil)
	echoPort := tcpServer(t, echo)
	for _, w := range []Wire{WireWebSocket, WireSPDY} {
		t.Run(wireName(w), func(t *testing.T) {
			c := newTestClient(t, base)
			_, ports := startForward(t, c.PortForward, &PortForwardOptions{
				Pod: "p", Wire: w, Addresses: []string{"127.0.0.1"}, Ports: []ForwardedPort{{Remote: echoPort}},
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(int(ports[0].Local)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			gets := upPool.Gets()
			p := payload(7, 3<<20+99)
			werr := make(chan error, 1)
			go func() { _, err := conn.Write(p); werr <- err }()
			got := make([]byte, len(p))
			if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, p) {
				t.Fatalf("echo: %v, equal %v", err, bytes.Equal(got, p))
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if upPool.Gets() == gets {
				t.Error("the local bytes did not go through copyUp's buffers")
			}
			// Echoed back means read and sent; the copier parks right after.
			deadline := time.Now().Add(5 * time.Second)
			for upPool.InUse() != 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := upPool.InUse(); n != 0 {
				t.Errorf("%d upload buffers held by an idle forwarded connection, want 0", n)
			}
		})
	}
}
