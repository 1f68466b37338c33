package spdy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
)

// TestPingsDuringEcho: PINGs either way while a stream echoes through a
// TCP echo server behind the server (a port-forward to an echo, or exec of
// cat), both directions full. spdystream answered a PING on the frame
// worker that also delivers one stream in five: with our upload blocked
// (the server stopped reading, its echo waiting on us to read), the answer
// blocked that worker, the echo stopped being read, and the transfer
// stopped for good (the SPDY port-forward stall seen in the interop suite,
// where the gateway's keep-alive PINGs the CLI). The answers now leave off
// the workers. The deadline only detects the hang; the transfer takes a
// second or two.
func TestPingsDuringEcho(t *testing.T) {
	for _, tc := range []struct {
		name         string
		serverPings  bool
		clientPeriod time.Duration
	}{
		{name: "server-pings", serverPings: true, clientPeriod: -1},
		{name: "client-pings", clientPeriod: time.Millisecond},
		{name: "both", serverPings: true, clientPeriod: time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			echo := startEchoServer(t)
			ts := newTestServer(t, &UpgradeOptions{Protocols: protocol.Names(protocol.SPDYVersions)})
			client, server := dialPair(t, ts, &DialOptions{Protocols: protocol.SPDYClientOffer, PingPeriod: tc.clientPeriod})
			var wg sync.WaitGroup
			defer wg.Wait()
			stop := make(chan struct{})
			defer close(stop)
			if tc.serverPings {
				// A server that PINGs a busy client (this package's own
				// keep-alive no longer does: see idle.KeepAlive).
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						case <-time.After(200 * time.Microsecond):
							server.wire.writeKeepAlive()
						}
					}
				}()
			}
			wg.Add(1)
			go func() { defer wg.Done(); echoThrough(t, server, echo) }()

			s, err := client.Open(context.Background(), http.Header{"Streamtype": {"data"}})
			if err != nil {
				t.Fatal(err)
			}
			// The writer sends one random MiB over and over, fast; the
			// reader hashes, slower: the return path is the bottleneck and
			// the upload stays full, as the stall needs.
			const n = 64 << 20
			block := randomBytes(t, 1<<20)
			sent := sha256.New()
			for range n / len(block) {
				sent.Write(block)
			}
			werr := make(chan error, 1)
			go func() {
				var err error
				for range n / len(block) {
					if _, err = s.Write(block); err != nil {
						break
					}
				}
				werr <- errors.Join(err, s.CloseWrite())
			}()
			type result struct {
				n   int64
				sum [32]byte
				err error
			}
			got := make(chan result, 1)
			counted := &countingWriter{}
			go func() {
				n, sum, err := readAllSum(io.TeeReader(s, counted))
				got <- result{n, sum, err}
			}()
			select {
			case r := <-got:
				if err := errors.Join(<-werr, r.err); err != nil {
					t.Fatal(err)
				}
				if r.n != n || r.sum != [32]byte(sent.Sum(nil)) {
					t.Fatalf("echo: %d bytes back, want %d, sums equal %v", r.n, n, r.sum == [32]byte(sent.Sum(nil)))
				}
			case <-time.After(2 * time.Minute):
				client.Abort("hung")
				server.Abort("hung")
				t.Fatalf("echo stopped after %d of %d bytes back", counted.n(), n)
			}
		})
	}
}

// echoThrough accepts one stream on c and copies it both ways through a
// TCP connection to echo, as the node forwards a port.
func echoThrough(t *testing.T, c *Conn, echo string) {
	s, err := c.Accept(context.Background())
	if err != nil {
		t.Errorf("accept: %v", err)
		return
	}
	tcp, err := net.Dial("tcp", echo)
	if err != nil {
		t.Errorf("dial echo: %v", err)
		return
	}
	defer tcp.Close()
	stop := context.AfterFunc(c.Context(), func() { tcp.Close() }) // a hung test aborted c
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(tcp, s)
		_ = tcp.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(s, tcp)
	_ = s.CloseWrite()
	<-done
}

// startEchoServer echoes every connection on a loopback port until the
// test ends.
func startEchoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

type countingWriter struct {
	mu sync.Mutex
	c  int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.c += int64(len(p))
	w.mu.Unlock()
	return len(p), nil
}

func (w *countingWriter) n() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.c
}

// TestClientAnswersPeerPings: a client answers the server's PINGs (even
// IDs) with the same frame, and leaves odd IDs, answers to PINGs of its
// own, unanswered.
func TestClientAnswersPeerPings(t *testing.T) {
	raw := pipeClient(t)
	_ = raw.SetDeadline(time.Now().Add(30 * time.Second))
	for _, id := range []uint32{2, 0x7ffffffe} {
		if _, err := raw.Write(rawPing(id)); err != nil {
			t.Fatal(err)
		}
		// Not an answer: an unsolicited answer to a PING of the client's.
		if _, err := raw.Write(rawPing(id + 1)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, 24)
	if _, err := io.ReadFull(raw, got); err != nil {
		t.Fatal(err)
	}
	if want := append(rawPing(2), rawPing(0x7ffffffe)...); !bytes.Equal(got, want) {
		t.Fatalf("answers % x, want % x", got, want)
	}
}

// TestPingFloodKeepsReading: a peer that sends PINGs by the hundred and
// reads nothing does not stop our reader (spdystream's workers blocked on
// their answers, and after 5 x 50 frames its reader with them); the
// answers owed stay bounded, the first ones sent once the peer reads.
func TestPingFloodKeepsReading(t *testing.T) {
	raw := pipeClient(t)
	const flood = 400
	wrote := make(chan error, 1)
	go func() {
		var err error
		for i := range flood {
			if _, err = raw.Write(rawPing(uint32(2 * (i + 1)))); err != nil {
				break
			}
		}
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // a hang detector: the writes take microseconds
		t.Fatalf("the client stopped reading during a flood of %d PINGs", flood)
	}
	// Collect the answers: the first batch waits in the pipe; the rest
	// follow at once. Stop after a quiet half second.
	var got []uint32
	buf := make([]byte, 12)
	for {
		_ = raw.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if len(got) == 0 {
			_ = raw.SetReadDeadline(time.Now().Add(30 * time.Second))
		}
		if _, err := io.ReadFull(raw, buf); err != nil {
			break
		}
		got = append(got, be32(buf[8:]))
	}
	// At most: the answers the first, blocked, write took; those owed
	// meanwhile; and one more, for the PING whose bytes the client had
	// read but not yet handled when the pipe let the flood's last write
	// return (the pipe returns once read, and the client reads no further
	// until it has handled what it read).
	if most := 2*maxOwedAnswers + 1; len(got) == 0 || len(got) > most {
		t.Fatalf("%d answers to %d PINGs, want 1 to %d", len(got), flood, most)
	}
	for i, id := range got {
		if id%2 != 0 || id == 0 || id > 2*flood || (i > 0 && id <= got[i-1]) {
			t.Fatalf("answers %v: not a rising sequence of the PINGs' IDs", got)
		}
	}
	if got[0] != 2 {
		t.Errorf("first answer %d, want 2", got[0])
	}
}

// pipeClient runs a client Conn (no PINGs of its own) over a net.Pipe and
// returns the pipe's other end, the test's raw server; both are closed at
// cleanup.
func pipeClient(t *testing.T) net.Conn {
	raw, nc := net.Pipe()
	client, err := NewClient(nc, protocol.V4, &DialOptions{PingPeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		raw.Close()
		client.Abort("done")
	})
	return raw
}

// rawPing is a PING frame with id, written out by hand (not by the package's
// own encoder, which the tests check).
func rawPing(id uint32) []byte {
	return []byte{0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
}
