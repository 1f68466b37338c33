package client

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// cutProxy stands between the client and the node on a fixed 127.0.0.1
// port. cut closes the listener and every proxied connection (a server
// killed, or the network lost); restart listens on the same port again.
type cutProxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	p := &cutProxy{target: target, conns: make(map[net.Conn]bool)}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go p.acceptLoop(ln)
}

func (p *cutProxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.(*net.TCPConn).CloseWrite()
}

// cut drops everything and waits for the proxy's goroutines.
func (p *cutProxy) cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		// An abortive close, as a killed process's sockets.
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *cutProxy) restart(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp4", p.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestPortForwardReconnects: the connection to the server dies under a
// running forward; the listeners stay, a connection made during the outage
// waits for the new session, and new connections work after the server is
// back on the same port, on both wires.
func TestPortForwardReconnects(t *testing.T) {
	base := startPFNode(t, nil)
	u, _ := url.Parse(base)
	echoPort := tcpServer(t, echo)
	for _, w := range []Wire{WireWebSocket, WireSPDY} {
		t.Run(wireName(w), func(t *testing.T) {
			proxy := newCutProxy(t, u.Host)
			c := newTestClient(t, "http://"+proxy.addr)
			f, err := newForwarder(&PortForwardOptions{Pod: "p", Addresses: []string{"127.0.0.1"},
				Ports: []ForwardedPort{{Remote: echoPort}}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			target := c.url("/api/v1/namespaces/default/pods/p/portforward", nil)
			run := func(ctx context.Context, opts *PortForwardOptions) error {
				f.events, f.ready = events{f: opts.Events}, opts.Ready
				f.dial = func(ctx context.Context) (*podConn, error) {
					conn, err := c.dialPortForward(ctx, target, w, false)
					if err != nil {
						return nil, err
					}
					return newPodConn(conn, "", "", nil), nil
				}
				f.backoff = func(int) time.Duration { return time.Millisecond }
				return f.run(ctx)
			}
			fr, ports := startForward(t, run, &PortForwardOptions{})
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			addr := "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
			check := func(seed uint64) {
				t.Helper()
				p := payload(seed, 256<<10)
				if got, err := roundTrip(ctx, addr, p); err != nil || !bytes.Equal(got, p) {
					t.Fatalf("echo %d: got %d bytes (err %v); stderr: %s", seed, len(got), err, fr.errOut)
				}
			}
			check(1)
			for round := 1; round <= 2; round++ {
				proxy.cut()
				fr.errOut.await(t, "lost connection to pod, reconnecting...\n", round)
				// The listener is still there; this connection waits.
				type result struct {
					got []byte
					err error
				}
				waiting := make(chan result, 1)
				p := payload(uint64(10+round), 64<<10)
				go func() {
					got, err := roundTrip(ctx, addr, p)
					waiting <- result{got, err}
				}()
				fr.out.await(t, "Handling connection for", 2*round)
				proxy.restart(t)
				fr.errOut.await(t, "reconnected\n", round)
				if r := <-waiting; r.err != nil || !bytes.Equal(r.got, p) {
					t.Fatalf("connection made during the outage: got %d bytes (err %v)", len(r.got), r.err)
				}
				check(uint64(20 + round))
			}
			fr.stop(t)
			proxy.cut()
		})
	}
}
