// Package freezer is a loopback TCP relay for tests that can freeze: after
// Freeze it passes nothing either way but keeps every socket open, as a
// peer that froze (SIGSTOP, a sleeping laptop) or a network that silently
// dropped it looks to the other side. The keep-alive tests of both wires
// use it.
package freezer

import (
	"net"
	"sync"
	"testing"
)

// Relay accepts on a loopback port and relays each connection to target.
type Relay struct {
	ln     net.Listener
	target string
	frozen chan struct{}
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
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

// Freeze stops all relaying for good; the sockets stay open.
func (f *Relay) Freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *Relay) accept() {
	defer f.wg.Done()
	for {
		down, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.target)
		if err != nil {
			down.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, down, up)
		f.mu.Unlock()
		f.wg.Add(2)
		go f.relay(up, down)
		go f.relay(down, up)
	}
}

func (f *Relay) relay(dst, src net.Conn) {
	defer f.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-f.frozen:
			return // what arrives is never passed on
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
