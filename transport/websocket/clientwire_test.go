package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol"
)

// writeCounter counts the writes to a client's socket.
type writeCounter struct {
	net.Conn
	writes *atomic.Int64
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes.Add(1)
	return w.Conn.Write(p)
}

// countingClient is an HTTP client whose connections count their writes.
func countingClient(writes *atomic.Int64) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &writeCounter{Conn: nc, writes: writes}, nil
	}}
	return &http.Client{Transport: tr}
}

// writeCounted writes payloads of sizes around msgMax (and extra) to w
// and checks that each cost one socket write per message of at most
// msgMax bytes; it returns what it wrote.
func writeCounted(t *testing.T, w io.Writer, writes *atomic.Int64, msgMax int, extra ...int) []byte {
	t.Helper()
	var sent []byte
	for _, n := range append([]int{1, 125, 126, msgMax, 3*msgMax + 17}, extra...) {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*31 + n)
		}
		before := writes.Load()
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if got, want := writes.Load()-before, int64((n+msgMax-1)/msgMax); got != want {
			t.Errorf("%d bytes (messages of at most %d): %d socket writes, want %d", n, msgMax, got, want)
		}
		sent = append(sent, p...)
	}
	return sent
}

// TestClientMessageOneWrite: a client's message goes to the socket in one
// write, masked so that the server reads the bytes sent, on every version
// (coder/websocket's own writer cost nine writes for 32 KiB), and a write
// larger than a message is one write per message.
func TestClientMessageOneWrite(t *testing.T) {
	for _, v := range protocol.WebSocketVersions {
		t.Run(versionName(v), func(t *testing.T) {
			got := make(chan []byte, 1)
			url, _, _ := serve(t, &AcceptOptions{Versions: []protocol.Version{v}}, func(c *Conn) {
				s := c.ServerSession(protocol.Want{Stdin: true, Stdout: true})
				got <- readAll(t, s.Stdin)
			})
			var writes atomic.Int64
			o := dialOpts(v)
			o.HTTPClient = countingClient(&writes)
			c, _, err := Dial(context.Background(), url, o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			stdin := c.ClientSession(protocol.Want{Stdin: true, Stdout: true}).Stdin
			msgMax := c.Channel(0).payloadMax()
			sent := writeCounted(t, stdin, &writes, msgMax, 65535%msgMax)
			if err := stdin.CloseWrite(); err != nil && !errors.Is(err, ErrNoCloseSignal) {
				t.Fatal(err)
			}
			if !v.CloseSignal {
				_ = c.Close()
			}
			if b := <-got; !bytes.Equal(b, sent) {
				t.Fatalf("server read %d bytes, want the %d sent", len(b), len(sent))
			}
		})
	}
}

// TestClientNoDataAfterClose: once the client's close frame went out, a
// data frame is refused, not sent behind it.
func TestClientNoDataAfterClose(t *testing.T) {
	v := protocol.WebSocketVersions[0]
	url, accepted, _ := serve(t, &AcceptOptions{Versions: []protocol.Version{v}}, func(c *Conn) {
		<-c.Done()
	})
	c, _, err := Dial(context.Background(), url, dialOpts(v))
	if err != nil {
		t.Fatal(err)
	}
	<-accepted
	if err := c.ws.Close(1000, ""); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
	err = c.raw.writeFrame(c.opcode(), 0, []byte("late"), nil)
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a data frame after the close frame: %v, want net.ErrClosed", err)
	}
	_ = c.Close()
}

// TestPingWaitsForStalledWrite: while the server reads nothing (its
// process does not read stdin), the client's message stays in flight and
// a ping cannot get out, so no pong can come back. That is not a dead
// server: the session goes on once the server reads again, every byte
// arrives, and pings resume. (Pinging through coder/websocket failed the
// connection after the pong wait: "failed to acquire lock".)
func TestPingWaitsForStalledWrite(t *testing.T) {
	v := protocol.WebSocketVersions[0]
	const total = 32 << 20
	got := make(chan int, 1)
	url, _, _ := serve(t, &AcceptOptions{Versions: []protocol.Version{v}}, func(c *Conn) {
		s := c.ServerSession(protocol.Want{Stdin: true, Stdout: true})
		time.Sleep(1500 * time.Millisecond) // 30 ping intervals, several pong waits
		got <- len(readAll(t, s.Stdin))
	})
	o := dialOpts(v)
	o.PingInterval, o.PongWait = 50*time.Millisecond, 400*time.Millisecond
	c, _, err := Dial(context.Background(), url, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stdin := c.ClientSession(protocol.Want{Stdin: true, Stdout: true}).Stdin
	if _, err := stdin.Write(make([]byte, total)); err != nil {
		t.Fatalf("write stdin: %v", err)
	}
	if err := stdin.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != total {
		t.Fatalf("server read %d bytes, want %d", n, total)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection: %v", err)
	}
}

// TestServerPingWhileWriteStalls: a server that pings the client while
// it reads nothing for 6 s gets its pong after the client's stalled
// message, and the session goes on. (coder/websocket's own pong waited
// at most 5 s for the write in flight, then ended the connection.)
func TestServerPingWhileWriteStalls(t *testing.T) {
	v := protocol.WebSocketVersions[0]
	const total = 32 << 20
	got := make(chan int, 1)
	// The scripted server hangs up (no close frame) when its handler
	// returns, which ends the client's connection with EOF: it waits until
	// the test has looked at the connection.
	checked := make(chan struct{})
	release := sync.OnceFunc(func() { close(checked) })
	url := newRawServer(t, v.Name, func(c *ws.Conn) {
		defer func() { <-checked }()
		time.Sleep(100 * time.Millisecond)
		pinged := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pinged <- c.Ping(ctx) // its pong is read below, behind the data
		}()
		time.Sleep(6 * time.Second)
		n := 0
		for n < total {
			_, b, err := c.Read(context.Background())
			if err != nil {
				break
			}
			n += len(b) - 1 // the channel byte
		}
		if err := <-pinged; err != nil {
			t.Errorf("server ping: %v", err)
		}
		got <- n
	})
	t.Cleanup(release) // before the server's Close, which waits for the handler
	c, _, err := Dial(context.Background(), url, dialOpts(v))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer release() // before the client's Close, whose handshake needs the server
	stdin := c.ClientSession(protocol.Want{Stdin: true, Stdout: true}).Stdin
	if _, err := stdin.Write(make([]byte, total)); err != nil {
		t.Fatalf("write stdin: %v", err)
	}
	if n := <-got; n != total {
		t.Fatalf("server read %d bytes, want %d", n, total)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection: %v", err)
	}
}

// TestTunnelClientWrites: a dialled tunnel's Write goes out as one socket
// write per client message (coder/websocket's NetConn wrote 4 KiB at a
// time), the server reads every byte in order, a write deadline that passed
// fails the Write at once, and one that passes while the server does not
// read ends the stalled Write.
func TestTunnelClientWrites(t *testing.T) {
	const stallAfter = 1 << 20
	got := make(chan []byte, 1)
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tun, err := AcceptTunnel(w, r, &TunnelOptions{Protocols: []string{"portforward.k8s.io"}})
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer tun.Close()
		b := make([]byte, stallAfter)
		_, err = io.ReadFull(tun, b)
		got <- b
		if err != nil {
			t.Errorf("server read: %v", err)
		}
		<-stall // reads nothing more until the test ends
	}))
	defer srv.Close()
	defer close(stall)
	var writes atomic.Int64
	tun, _, err := DialTunnel(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"),
		&TunnelDialOptions{HTTPClient: countingClient(&writes)})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	sent := writeCounted(t, tun, &writes, clientMsgMax)
	if _, err := tun.Write(make([]byte, stallAfter-len(sent))); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b[:len(sent)], sent) {
		t.Fatal("the server read other bytes than were sent")
	}

	if err := tun.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := tun.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write after its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if err := tun.SetWriteDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := tun.Write(make([]byte, 64<<20)) // stalls: the server reads no more
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a 64 MiB write to a server that reads nothing succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled write outlived its deadline by 10 s")
	}
}
