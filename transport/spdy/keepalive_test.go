package spdy

import (
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/porthole/porthole/internal/freezer"
	"github.com/porthole/porthole/protocol"
)

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
		fz := freezer.New(t, mustHost(t, ts.URL))
		client, _, err := Dial(t.Context(), "http://"+fz.Addr(), &DialOptions{Protocols: protocol.SPDYClientOffer,
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
		fz.Freeze()
		if err := waitEnded(t, client, 10*time.Second); !errors.Is(err, ErrPeerUnresponsive) {
			t.Errorf("client ended with %v, want ErrPeerUnresponsive", err)
		}
	})
	t.Run("server", func(t *testing.T) {
		opts := serverOpts()
		opts.KeepAliveTimeout = 200 * time.Millisecond
		ts := newTestServer(t, opts)
		fz := freezer.New(t, mustHost(t, ts.URL))
		client, _, err := Dial(t.Context(), "http://"+fz.Addr(), &DialOptions{Protocols: protocol.SPDYClientOffer,
			PingPeriod: 20 * time.Millisecond, KeepAliveTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Abort("done")
		server := <-ts.conns
		defer server.Abort("done")
		waitFor(t, func() bool { return server.peerPings.Load() })
		fz.Freeze()
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
//
// The timeout is 250 ms against a 10 ms ping period, and the held-up
// reader lasts ten timeouts: a loaded machine can starve the client's
// pinger for a tenth of a second (seen with the whole suite running
// beside it), which is the client's silence, not the blocked reader this
// test is about.
func TestKeepAliveSparesBlockedReader(t *testing.T) {
	opts := serverOpts()
	opts.KeepAliveTimeout = 250 * time.Millisecond
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
	case <-time.After(10 * opts.KeepAliveTimeout):
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

// TestKeepAliveSkipsBusy: the server's keep-alive PINGs only a connection
// on which no frame moved either way for a whole interval. DATA keeps the
// proxies' timers alive, and a PING into a busy connection asks a client
// whose writes may be blocked for an answer that spdystream gives from a
// frame worker (see TestPingsDuringEcho, idle.KeepAlive).
func TestKeepAliveSkipsBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int32
		a, b := net.Pipe()
		server, err := NewServer(a, protocol.V4, &UpgradeOptions{KeepAlive: 10 * time.Second, OnKeepAlive: func() { sent.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		client, err := NewClient(b, protocol.V4, &DialOptions{PingPeriod: -1})
		if err != nil {
			t.Fatal(err)
		}
		cOut, sOut := openPair(t, client, server, "stdout")
		read, upload := make(chan error, 1), make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, cOut); read <- err }()
		go func() { _, err := io.Copy(io.Discard, sOut); upload <- err }()
		time.Sleep(time.Second / 2) // off the ticks
		for _, w := range []struct {
			who string
			s   *Stream
		}{{"server", sOut}, {"client", cOut}} {
			for range 60 {
				if _, err := w.s.Write([]byte("tick\n")); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second)
			}
			synctest.Wait()
			if n := sent.Load(); n != 0 {
				t.Errorf("%d keep-alive PINGs while the %s wrote every second, want 0", n, w.who)
			}
		}
		time.Sleep(35 * time.Second) // the ticks at 130, 140 and 150 s find nothing moved
		synctest.Wait()
		if n := sent.Load(); n != 3 {
			t.Errorf("%d keep-alive PINGs in 35 quiet seconds at 10 s, want 3 (server err %v)", n, server.Err())
		}
		sOut.CloseWrite()
		cOut.CloseWrite()
		if err := errors.Join(<-read, <-upload); err != nil {
			t.Error(err)
		}
		client.Close()
		server.Close()
	})
}
