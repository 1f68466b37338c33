package spdy

import (
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
)

// freezer relays TCP connections to upstream until freeze, after which it
// relays nothing either way but keeps every socket open: a peer that froze
// (SIGSTOP, a sleeping laptop) or a network that silently dropped it.
type freezer struct {
	ln       net.Listener
	upstream string
	frozen   chan struct{}
	once     sync.Once
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newFreezer(t *testing.T, upstream string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, upstream: upstream, frozen: make(chan struct{})}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.freeze()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *freezer) freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *freezer) accept() {
	defer f.wg.Done()
	for {
		down, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.upstream)
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

func (f *freezer) relay(dst, src net.Conn) {
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

func waitEnded(t *testing.T, c *Conn, within time.Duration) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(within):
		t.Fatalf("connection still up %v after its peer froze", within)
		return nil
	}
}

// TestKeepAlive: a client notices a frozen server, and a server notices a
// frozen client that used to ping, by the silence of the wire; a client
// that never pings is left alone (the idle timeout is its bound).
func TestKeepAlive(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		ts := newTestServer(t, serverOpts())
		fz := newFreezer(t, mustHost(t, ts.URL))
		client, _, err := Dial(t.Context(), "http://"+fz.ln.Addr().String(), &DialOptions{Protocols: protocol.SPDYClientOffer,
			PingPeriod: 20 * time.Millisecond, KeepAliveTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Abort("done")
		server := <-ts.conns
		defer server.Abort("done")
		if _, err := client.sc.Ping(); err != nil {
			t.Fatalf("ping before the freeze: %v", err)
		}
		fz.freeze()
		if err := waitEnded(t, client, 10*time.Second); !errors.Is(err, ErrPeerUnresponsive) {
			t.Errorf("client ended with %v, want ErrPeerUnresponsive", err)
		}
	})
	t.Run("server", func(t *testing.T) {
		opts := serverOpts()
		opts.KeepAliveTimeout = 200 * time.Millisecond
		ts := newTestServer(t, opts)
		fz := newFreezer(t, mustHost(t, ts.URL))
		client, _, err := Dial(t.Context(), "http://"+fz.ln.Addr().String(), &DialOptions{Protocols: protocol.SPDYClientOffer,
			PingPeriod: 20 * time.Millisecond, KeepAliveTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Abort("done")
		server := <-ts.conns
		defer server.Abort("done")
		waitFor(t, func() bool { return server.peerPings.Load() })
		fz.freeze()
		if err := waitEnded(t, server, 10*time.Second); !errors.Is(err, ErrPeerUnresponsive) {
			t.Errorf("server ended with %v, want ErrPeerUnresponsive", err)
		}
	})
	t.Run("silent client", func(t *testing.T) {
		opts := serverOpts()
		opts.KeepAliveTimeout = 100 * time.Millisecond
		ts := newTestServer(t, opts)
		client, server := dialPair(t, ts, &DialOptions{Protocols: protocol.SPDYClientOffer, PingPeriod: -1})
		select {
		case <-server.Done():
			t.Fatalf("server cut a live client that does not ping: %v", server.Err())
		case <-time.After(time.Second):
		}
		// Still usable both ways.
		cOut, sOut := openPair(t, client, server, "stdout")
		go func() { sOut.Write([]byte("hello")); sOut.CloseWrite() }()
		if b, err := io.ReadAll(cOut); err != nil || string(b) != "hello" {
			t.Errorf("after the quiet second: %q %v", b, err)
		}
	})
}

// TestKeepAliveSparesBlockedReader: a server whose reader is held up
// delivering data its application has not taken (stdin of a process that
// does not read it) cannot hear the client's PINGs; that is not the
// client's silence, and the connection stays up.
func TestKeepAliveSparesBlockedReader(t *testing.T) {
	opts := serverOpts()
	opts.KeepAliveTimeout = 100 * time.Millisecond
	ts := newTestServer(t, opts)
	client, server := dialPair(t, ts, &DialOptions{Protocols: protocol.SPDYClientOffer, PingPeriod: 10 * time.Millisecond})
	cIn, sIn := openPair(t, client, server, "stdin")
	waitFor(t, func() bool { return server.peerPings.Load() })
	const total = 16 << 20
	var progress atomic.Int64
	go writePattern(cIn, total, &progress, sha256.New())
	waitBlockedInIO(t, "writePattern")
	select {
	case <-server.Done():
		t.Fatalf("server cut a live client while its own reader was held up: %v", server.Err())
	case <-time.After(time.Second):
	}
	n, err := io.CopyN(io.Discard, sIn, total)
	if n != total || err != nil {
		t.Errorf("read %d of %d: %v", n, total, err)
	}
}

func mustHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
