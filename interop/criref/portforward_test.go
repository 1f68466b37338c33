package criref

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// echoServer accepts on 127.0.0.1 and echoes each connection until EOF,
// then half-closes. Close joins its goroutines.
type echoServer struct {
	l  net.Listener
	wg sync.WaitGroup
}

func startEcho(t *testing.T) *echoServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{l: l}
	e.wg.Add(1)
	go e.acceptLoop()
	t.Cleanup(func() { _ = l.Close(); e.wg.Wait() })
	return e
}

func (e *echoServer) acceptLoop() {
	defer e.wg.Done()
	for {
		c, err := e.l.Accept()
		if err != nil {
			return
		}
		e.wg.Add(1)
		go e.echo(c.(*net.TCPConn))
	}
}

func (e *echoServer) echo(c *net.TCPConn) {
	defer e.wg.Done()
	defer c.Close()
	_, _ = io.Copy(c, c)
	_ = c.CloseWrite()
}

func (e *echoServer) port() int { return e.l.Addr().(*net.TCPAddr).Port }

// TestPortForward forwards a local port to an echo server through the
// reference node with client-go's dialers, as kubectl does: the
// SPDY-over-WebSocket tunnel at the front, and plain SPDY at the front.
func TestPortForward(t *testing.T) {
	s := startServer(t, nil)
	echo := startEcho(t)
	pfURL, err := url.Parse(s.URL() + "/api/v1/namespaces/default/pods/pf/portforward")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: s.URL()}
	dialers := []struct {
		name string
		dial func(t *testing.T) httpstream.Dialer
	}{
		{"websocket-tunnel", func(t *testing.T) httpstream.Dialer {
			d, err := portforward.NewSPDYOverWebsocketDialer(pfURL, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"spdy", func(t *testing.T) httpstream.Dialer {
			rt, up, err := spdy.RoundTripperFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", pfURL)
		}},
	}
	payload := make([]byte, 1<<20+3)
	_, _ = rand.Read(payload)
	for _, d := range dialers {
		t.Run(d.name, func(t *testing.T) {
			local := forward(t, d.dial(t), echo.port())
			for i := range 3 {
				got := roundTrip(t, local, payload)
				if !bytes.Equal(got, payload) {
					t.Fatalf("connection %d: got %d bytes back, want the %d sent", i, len(got), len(payload))
				}
			}
		})
	}
}

// forward runs a client-go PortForwarder to remotePort until the test ends
// and returns the local address.
func forward(t *testing.T, d httpstream.Dialer, remotePort int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(ctx, d, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(remotePort)}, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- pf.ForwardPorts() }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("forward ports: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("forward ports: %v", err)
	}
	ports, err := pf.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0].Local)
}

// roundTrip sends payload, half-closes, and reads the echo to EOF.
func roundTrip(t *testing.T, addr string, payload []byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	return got
}
