// Package freezer is a loopback TCP relay for tests that can freeze: after
// Freeze it passes nothing either way but keeps every socket open, as a
// peer that froze (SIGSTOP, a sleeping laptop) or a network that silently
// dropped it looks to the other side. The keep-alive tests of both wires
// use it. Cut stalls the connections relayed so far and then resets them,
// as a network that drops a connection does; the resume tests use it.
package freezer

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Relay accepts on a loopback port and relays each connection to target.
type Relay struct {
	ln     net.Listener
	target string
	frozen chan struct{}
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
	pairs  []*pair
	wg     sync.WaitGroup
}

// pair is one relayed connection: the client's and the target's sockets.
type pair struct {
	down, up net.Conn
	stalled  chan struct{}
	once     sync.Once
}

// New starts a relay to target (host:port); the test's cleanup stops it
// and joins every goroutine.
func New(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Relay{ln: ln, target: target, frozen: make(chan struct{})}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.Freeze()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// Addr is the relay's host:port.
func (f *Relay) Addr() string { return f.ln.Addr().String() }

// SetTarget relays the connections accepted from now on to target: a load
// balancer that sends a client's next connection to another replica.
func (f *Relay) SetTarget(target string) {
	f.mu.Lock()
	f.target = target
	f.mu.Unlock()
}

// Freeze stops all relaying for good; the sockets stay open.
func (f *Relay) Freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *Relay) accept() {
	defer f.wg.Done()
	for {
		down, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		target := f.target
		f.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			down.Close()
			continue
		}
		p := &pair{down: down, up: up, stalled: make(chan struct{})}
		f.mu.Lock()
		f.conns = append(f.conns, down, up)
		f.pairs = append(f.pairs, p)
		f.mu.Unlock()
		f.wg.Add(2)
		go f.relay(p, up, down)
		go f.relay(p, down, up)
	}
}

// Cut stalls every connection relayed so far (nothing passes either way,
// the sockets stay open) for stall, then resets both sockets of each: an
// RST to both peers, not a clean close. Connections accepted later relay
// normally. Cut returns once the sockets are reset.
func (f *Relay) Cut(stall time.Duration) {
	f.mu.Lock()
	ps := f.pairs
	f.pairs = nil
	f.mu.Unlock()
	for _, p := range ps {
		p.once.Do(func() { close(p.stalled) })
	}
	time.Sleep(stall)
	for _, p := range ps {
		for _, c := range []net.Conn{p.down, p.up} {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
	}
}

func (f *Relay) relay(p *pair, dst, src net.Conn) {
	defer f.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-f.frozen:
			return // what arrives is never passed on
		case <-p.stalled:
			if err != nil {
				return
			}
			continue // dropped, as by a network that lost the peer
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
