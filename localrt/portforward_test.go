package localrt

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// memStream is a port-forward data stream as the node hands it: it reads
// what the client sends and writes to the client, and can half-close.
type memStream struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (s *memStream) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *memStream) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *memStream) CloseWrite() error           { return s.w.Close() }
func (s *memStream) Close() error {
	s.r.Close()
	s.w.Close()
	return nil
}

// newStream returns the runtime's side and the client's ends.
func newStream() (stream *memStream, toRuntime *io.PipeWriter, fromRuntime *io.PipeReader) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	return &memStream{r: inR, w: outW}, inW, outR
}

// serveOnce accepts one connection on ln and runs fn on it; the returned
// channel is closed when fn returned.
func serveOnce(t *testing.T, ln net.Listener, fn func(*net.TCPConn)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer c.Close()
		fn(c.(*net.TCPConn))
	}()
	return done
}

func port(ln net.Listener) uint16 { return uint16(ln.Addr().(*net.TCPAddr).Port) }

func pfRef() node.PodRef { return node.PodRef{Namespace: "default", Name: "p"} }

func TestPortForwardEcho(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer ln.Close()
			// The echo server half-closes after the client's EOF.
			served := serveOnce(t, ln, func(c *net.TCPConn) {
				io.Copy(c, c)
				c.CloseWrite()
			})
			stream, toRT, fromRT := newStream()
			data := sample(1 << 20)
			pfDone := make(chan error, 1)
			go func() { pfDone <- r.PortForward(context.Background(), pfRef(), port(ln), stream) }()
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(fromRT)
				got <- b
			}()
			toRT.Write(data)
			toRT.Close() // half-close: the echo ends, then its EOF comes back
			if b := <-got; sha256.Sum256(b) != sha256.Sum256(data) {
				t.Errorf("echo: got %d bytes, want %d identical", len(b), len(data))
			}
			if err := <-pfDone; err != nil {
				t.Errorf("PortForward: got %v, want nil", err)
			}
			<-served
		})
	}
}

// TestPortForwardServerHalfClose: the server's EOF reaches the client while
// the client can still send.
func TestPortForwardServerHalfClose(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan string, 1)
	served := serveOnce(t, ln, func(c *net.TCPConn) {
		c.Write([]byte("hello"))
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		received <- string(b)
	})
	stream, toRT, fromRT := newStream()
	pfDone := make(chan error, 1)
	go func() { pfDone <- r.PortForward(context.Background(), pfRef(), port(ln), stream) }()
	b, err := io.ReadAll(fromRT) // ends at the server's half-close
	if string(b) != "hello" || err != nil {
		t.Fatalf("got %q, %v; want %q, nil", b, err, "hello")
	}
	toRT.Write([]byte("bye"))
	toRT.Close()
	if got := <-received; got != "bye" {
		t.Errorf("server got %q, want %q", got, "bye")
	}
	if err := <-pfDone; err != nil {
		t.Errorf("PortForward: got %v, want nil", err)
	}
	<-served
}

func TestPortForwardErrors(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := port(ln)
	ln.Close()
	tests := []struct {
		name string
		ref  node.PodRef
		port uint16
		want error
	}{
		{"refused", pfRef(), closed, syscall.ECONNREFUSED},
		{"unknown pod", node.PodRef{Namespace: "default", Name: "nope"}, closed, node.ErrNotFound},
		{"wrong uid", node.PodRef{Namespace: "default", Name: "p", UID: "x"}, closed, node.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, toRT, fromRT := newStream()
			defer toRT.Close()
			err := r.PortForward(context.Background(), tt.ref, tt.port, stream)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.want)
			}
			// Nothing was written, and the stream was closed.
			if b, err := io.ReadAll(fromRT); len(b) != 0 || err != nil {
				t.Errorf("client read %q, %v; want nothing, then EOF", b, err)
			}
			if n, err := toRT.Write([]byte("x")); n != 0 || !errors.Is(err, io.ErrClosedPipe) {
				t.Errorf("client write: got %d, %v; want the stream closed", n, err)
			}
		})
	}
}

func TestPortForwardCancel(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The server writes one byte, then neither writes nor closes until the
	// forward is gone.
	served := serveOnce(t, ln, func(c *net.TCPConn) {
		c.Write([]byte("x"))
		io.Copy(io.Discard, c)
	})
	stream, toRT, fromRT := newStream()
	defer toRT.Close()
	ctx, cancel := context.WithCancel(context.Background())
	pfDone := make(chan error, 1)
	go func() { pfDone <- r.PortForward(ctx, pfRef(), port(ln), stream) }()
	if _, err := io.ReadFull(fromRT, make([]byte, 1)); err != nil { // the forward is copying
		t.Fatalf("read: %v", err)
	}
	cancel()
	if err := <-pfDone; err != nil {
		t.Errorf("PortForward after cancel: got %v, want nil", err)
	}
	<-served // the server saw the connection close
}
