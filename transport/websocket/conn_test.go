package websocket

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
)

// TestServerFraming checks the first bytes on the wire both ways for every
// version, against a scripted client.
func TestServerFraming(t *testing.T) {
	for _, v := range allVersions {
		t.Run(versionName(v), func(t *testing.T) {
			stdin := make(chan []byte, 1)
			url, _, closed := serve(t, &AcceptOptions{Versions: allVersions}, func(c *Conn) {
				c.Channel(channel.Stdout).Write(nil) // "connected"
				c.Channel(channel.Stdout).Write([]byte("hi"))
				c.Channel(channel.Stderr).Write([]byte("OUT:"))
				buf := make([]byte, 16)
				n, _ := io.ReadFull(c.Channel(channel.Stdin), buf[:4])
				stdin <- buf[:n]
				c.Channel(channel.Error).Write([]byte(`{"status":"Success"}`))
			})
			peer := rawDial(t, url, offer(v)...)
			wantType := ws.MessageBinary
			want := [][]byte{{0x01}, {0x01, 'h', 'i'}, {0x02, 'O', 'U', 'T', ':'}}
			if v.Base64 {
				wantType = ws.MessageText
				want = [][]byte{[]byte("1"), []byte("1aGk="), []byte("2T1VUOg==")}
			}
			for _, w := range want {
				typ, got := readMsg(t, peer)
				if typ != wantType || !bytes.Equal(got, w) {
					t.Fatalf("got %v % X, want %v % X", typ, got, wantType, w)
				}
			}
			// stdin: one message as a binary frame, one as a text frame
			// (binary versions accept both), and an empty message.
			if v.Base64 {
				writeMsg(t, peer, ws.MessageText, []byte("0YWI="))
				writeMsg(t, peer, ws.MessageText, []byte{})
				writeMsg(t, peer, ws.MessageText, []byte("0Y2Q="))
			} else {
				writeMsg(t, peer, ws.MessageBinary, []byte{0x00, 'a', 'b'})
				writeMsg(t, peer, ws.MessageBinary, []byte{})
				writeMsg(t, peer, ws.MessageText, []byte{0x00, 'c', 'd'})
			}
			if got := <-stdin; string(got) != "abcd" {
				t.Fatalf("stdin: got %q, want abcd", got)
			}
			typ, got := readMsg(t, peer)
			wantStatus := append([]byte{0x03}, `{"status":"Success"}`...)
			if v.Base64 {
				wantStatus = channel.AppendBase64(nil, channel.Error, []byte(`{"status":"Success"}`))
			}
			if typ != wantType || !bytes.Equal(got, wantStatus) {
				t.Fatalf("status: got %q, want %q", got, wantStatus)
			}
			if code := readClose(t, peer); code != ws.StatusNormalClosure {
				t.Fatalf("close: got %v, want 1000", code)
			}
			if res := <-closed; res.err != nil {
				t.Fatalf("server Close: %v", res.err)
			}
		})
	}
}

// TestRoundTrip runs our client against our server for every version:
// stdin is echoed to stdout, 1 MiB plus change, checksums equal, clean end.
func TestRoundTrip(t *testing.T) {
	const size = 1<<20 + 12345
	for _, v := range allVersions {
		t.Run(versionName(v), func(t *testing.T) {
			url, _, closed := serve(t, &AcceptOptions{Versions: allVersions}, func(c *Conn) {
				io.CopyN(c.Channel(channel.Stdout), c.Channel(channel.Stdin), size)
			})
			c, resp, err := Dial(context.Background(), url, dialOpts(v))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols || c.Protocol() != v.Name {
				t.Fatalf("got %d %q, want 101 %q", resp.StatusCode, c.Protocol(), v.Name)
			}
			want := make([]byte, size)
			rand.Read(want)
			go c.Channel(channel.Stdin).Write(want)
			got := readAll(t, c.Channel(channel.Stdout))
			if sha256.Sum256(got) != sha256.Sum256(want) {
				t.Fatalf("stdout: got %d bytes, want %d, checksums differ", len(got), len(want))
			}
			if err := c.Err(); err != nil {
				t.Fatalf("client Err: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("client Close: %v", err)
			}
			if res := <-closed; res.err != nil {
				t.Fatalf("server Close: %v", res.err)
			}
		})
	}
}

// TestClientMessages checks what our client puts on the wire: messages of
// at most 32 KiB + 1 bytes, never fragmented, and the v5 close signal.
func TestClientMessages(t *testing.T) {
	type msg struct {
		typ ws.MessageType
		b   []byte
	}
	got := make(chan msg, 16)
	srv := newRawServer(t, protocol.V5, func(c *ws.Conn) {
		for {
			typ, b, err := c.Read(context.Background())
			if err != nil {
				close(got)
				return
			}
			got <- msg{typ, b}
		}
	})
	c, _, err := Dial(context.Background(), srv, dialOpts(protocol.WebSocketVersions[0]))
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte{'x'}, 40<<10)
	stdin := c.Channel(channel.Stdin)
	if n, err := stdin.Write(payload); n != len(payload) || err != nil {
		t.Fatalf("Write: %d %v", n, err)
	}
	if err := stdin.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := stdin.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("late")); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("Write after CloseWrite: got %v, want ErrClosed", err)
	}
	want := []msg{
		{ws.MessageBinary, append([]byte{0}, payload[:32<<10]...)},
		{ws.MessageBinary, append([]byte{0}, payload[32<<10:]...)},
		{ws.MessageBinary, []byte{0xFF, 0x00}},
	}
	for i, w := range want {
		m := <-got
		if m.typ != w.typ || !bytes.Equal(m.b, w.b) {
			t.Fatalf("message %d: got %v %d bytes % X..., want %v %d bytes % X...", i, m.typ, len(m.b), head(m.b), w.typ, len(w.b), head(w.b))
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for m := range got {
		t.Fatalf("unexpected message % X", head(m.b))
	}
}

func head(b []byte) []byte { return b[:min(len(b), 4)] }

// TestCloseSignalEOF: in v5 the client's close signal ends the server's
// stdin with EOF while stdout keeps flowing; the client sees every byte,
// then the status, then a clean end.
func TestCloseSignalEOF(t *testing.T) {
	out := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	url, _, closed := serve(t, nil, func(c *Conn) {
		in := readAll(t, c.Channel(channel.Stdin)) // ends only with the close signal
		c.Channel(channel.Stdout).Write(in)
		c.Channel(channel.Stdout).Write(out)
		c.Channel(channel.Error).Write([]byte(`{"status":"Success"}`))
	})
	c, _, err := Dial(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Channel(channel.Stdin).Write([]byte("hello"))
	c.Channel(channel.Stdin).CloseWrite()
	errc := make(chan []byte)
	go func() { errc <- readAll(t, c.Channel(channel.Error)) }()
	got := readAll(t, c.Channel(channel.Stdout))
	if !bytes.Equal(got, append([]byte("hello"), out...)) {
		t.Fatalf("stdout: got %d bytes, want %d", len(got), 5+len(out))
	}
	if st := <-errc; string(st) != `{"status":"Success"}` {
		t.Fatalf("error channel: got %q", st)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("client Close: %v", err)
	}
	if res := <-closed; res.err != nil {
		t.Fatalf("server Close: %v", res.err)
	}
}

// TestCloseSignalOtherVersions: before v5, {0xFF, 0} is data for channel
// 255 and is dropped; our client refuses to pretend it half-closed.
func TestCloseSignalOtherVersions(t *testing.T) {
	url, accepted, _ := serve(t, nil, func(c *Conn) {
		buf := make([]byte, 2)
		io.ReadFull(c.Channel(channel.Stdin), buf)
	})
	peer := rawDial(t, url, protocol.V4)
	writeMsg(t, peer, ws.MessageBinary, []byte{0xFF, 0x00})
	writeMsg(t, peer, ws.MessageBinary, []byte{0x00, 'o', 'k'})
	srv := (<-accepted).conn
	if code := readClose(t, peer); code != ws.StatusNormalClosure {
		t.Fatalf("close: got %v, want 1000", code)
	}
	if srv.Dropped() != 1 {
		t.Fatalf("dropped: got %d, want 1", srv.Dropped())
	}

	c, _, err := Dial(context.Background(), url, dialOpts(protocol.WebSocketVersions[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Channel(channel.Stdin).CloseWrite(); !errors.Is(err, ErrNoCloseSignal) {
		t.Fatalf("CloseWrite on v4: got %v, want ErrNoCloseSignal", err)
	}
	c.Channel(channel.Stdin).Write([]byte("ok"))
}

// TestMalformedCloseSignal: a bad close signal ends that connection with
// 1002 and a ConnError; a second connection carries on.
func TestMalformedCloseSignal(t *testing.T) {
	cases := []struct {
		name string
		msg  []byte
	}{
		{"short", []byte{0xFF}},
		{"long", []byte{0xFF, 0x00, 0x00}},
		{"channel 5", []byte{0xFF, 0x05}},
		{"channel 255", []byte{0xFF, 0xFF}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, accepted, closed := serve(t, nil, func(c *Conn) {
				io.Copy(c.Channel(channel.Stdout), c.Channel(channel.Stdin))
			})
			good := rawDial(t, url, protocol.V5)
			goodSrv := (<-accepted).conn
			bad := rawDial(t, url, protocol.V5)
			badSrv := (<-accepted).conn
			writeMsg(t, bad, ws.MessageBinary, tc.msg)
			if code := readClose(t, bad); code != ws.StatusProtocolError {
				t.Fatalf("bad: close got %v, want 1002", code)
			}
			<-badSrv.Done()
			wantConnError(t, badSrv.Err(), channel.ErrCloseSignal)
			if res := <-closed; res.conn != badSrv {
				t.Fatal("the good connection ended first")
			}

			writeMsg(t, good, ws.MessageBinary, []byte{0x00, 'o', 'k'})
			if _, got := readMsg(t, good); string(got) != "\x01ok" {
				t.Fatalf("good: got %q, want \\x01ok", got)
			}
			writeMsg(t, good, ws.MessageBinary, []byte{0xFF, 0x00})
			if code := readClose(t, good); code != ws.StatusNormalClosure {
				t.Fatalf("good: close got %v, want 1000", code)
			}
			if res := <-closed; res.conn != goodSrv || res.err != nil {
				t.Fatalf("good: server Close %v", res.err)
			}
		})
	}
}

// TestOversizedMessage: a message above ReadLimit ends the connection with
// close 1009 and a ConnError wrapping coder's ErrMessageTooBig.
func TestOversizedMessage(t *testing.T) {
	url, accepted, closed := serve(t, &AcceptOptions{ReadLimit: 1024}, func(c *Conn) {
		io.Copy(io.Discard, c.Channel(channel.Stdin))
	})
	peer := rawDial(t, url, protocol.V5)
	srv := (<-accepted).conn
	writeMsg(t, peer, ws.MessageBinary, make([]byte, 1024)) // at the limit: fine
	writeMsg(t, peer, ws.MessageBinary, make([]byte, 1025))
	if code := readClose(t, peer); code != ws.StatusMessageTooBig {
		t.Fatalf("close: got %v, want 1009", code)
	}
	<-closed
	wantConnError(t, srv.Err(), ws.ErrMessageTooBig)
}

// TestUnknownChannels: messages for channels the server does not have are
// dropped and counted; the session goes on.
func TestUnknownChannels(t *testing.T) {
	for _, v := range allVersions {
		t.Run(versionName(v), func(t *testing.T) {
			got := make(chan []byte, 1)
			url, accepted, _ := serve(t, &AcceptOptions{Versions: allVersions}, func(c *Conn) {
				buf := make([]byte, 2)
				io.ReadFull(c.Channel(channel.Stdin), buf)
				got <- buf
			})
			peer := rawDial(t, url, offer(v)...)
			srv := (<-accepted).conn
			typ := ws.MessageBinary
			msgs := [][]byte{{0x05, 'x'}, {0x07, 'y'}, {0x00, 'o', 'k'}}
			if v.Base64 {
				typ = ws.MessageText
				msgs = [][]byte{[]byte("5eA=="), []byte("0***"), []byte("0b2s=")}
			}
			for _, m := range msgs {
				writeMsg(t, peer, typ, m)
			}
			if g := <-got; string(g) != "ok" {
				t.Fatalf("stdin: got %q, want ok", g)
			}
			if n := srv.Dropped(); n != 2 {
				t.Fatalf("dropped: got %d, want 2", n)
			}
		})
	}
}

// TestCloseRead: a channel nobody reads must not stall the read loop once
// it is closed for reading.
func TestCloseRead(t *testing.T) {
	got := make(chan []byte, 1)
	url, _, _ := serve(t, nil, func(c *Conn) {
		c.Channel(channel.Resize).CloseRead()
		buf := make([]byte, 2)
		io.ReadFull(c.Channel(channel.Stdin), buf)
		if _, err := c.Channel(channel.Resize).Read(make([]byte, 1)); !errors.Is(err, stream.ErrClosed) {
			t.Errorf("Read after CloseRead: got %v, want ErrClosed", err)
		}
		got <- buf
	})
	peer := rawDial(t, url, protocol.V5)
	for range 3 {
		writeMsg(t, peer, ws.MessageBinary, []byte("\x04{\"Width\":80,\"Height\":24}\n"))
	}
	writeMsg(t, peer, ws.MessageBinary, []byte{0xff, 0x04}) // its close signal: nothing to tell
	writeMsg(t, peer, ws.MessageBinary, []byte{0x00, 'o', 'k'})
	if g := <-got; string(g) != "ok" {
		t.Fatalf("stdin: got %q, want ok", g)
	}
}

// TestCloseReadAfterCloseSignal: once a channel is closed for reading,
// Read and WriteTo report that, even when the peer's close signal came
// first (both are closed then, and a select would pick either).
func TestCloseReadAfterCloseSignal(t *testing.T) {
	for range 200 {
		ch := newChannel(&Conn{done: make(chan struct{})}, channel.Resize)
		ch.closeInbound()
		ch.CloseRead()
		if _, err := ch.Read(make([]byte, 1)); !errors.Is(err, stream.ErrClosed) {
			t.Fatalf("Read: got %v, want ErrClosed", err)
		}
		if _, err := ch.WriteTo(io.Discard); !errors.Is(err, stream.ErrClosed) {
			t.Fatalf("WriteTo: got %v, want ErrClosed", err)
		}
	}
}

// TestCloseReadUnusedAllocatesNothing: closing a channel for reading
// before anything used it costs no hand-over of its own (a session closes
// every channel it will not read, on every session).
func TestCloseReadUnusedAllocatesNothing(t *testing.T) {
	chs := make([]*Channel, 101) // AllocsPerRun calls once more than asked
	for i := range chs {
		chs[i] = newChannel(nil, byte(i%5))
	}
	i := 0
	if allocs := testing.AllocsPerRun(100, func() { chs[i].CloseRead(); i++ }); allocs != 0 {
		t.Errorf("CloseRead of an unused channel: %v allocations, want 0", allocs)
	}
	for _, ch := range chs {
		if _, err := ch.Read(make([]byte, 1)); !errors.Is(err, stream.ErrClosed) {
			t.Fatalf("Read after CloseRead: %v, want ErrClosed", err)
		}
	}
}

// TestFragmentedInbound: coder/websocket reassembles fragments, so a
// fragmented message is one message.
func TestFragmentedInbound(t *testing.T) {
	got := make(chan []byte, 1)
	url, _, _ := serve(t, nil, func(c *Conn) {
		buf := make([]byte, 6)
		io.ReadFull(c.Channel(channel.Stdin), buf)
		got <- buf
	})
	peer := rawDial(t, url, protocol.V5)
	w, err := peer.Writer(context.Background(), ws.MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{0x00, 'a', 'b'})
	w.Write([]byte("cdef"))
	w.Close()
	if g := <-got; string(g) != "abcdef" {
		t.Fatalf("got %q, want abcdef", g)
	}
}

// TestAbort: Abort sends 1008 with the reason; Err reports it.
func TestAbort(t *testing.T) {
	url, accepted, _ := serve(t, nil, func(c *Conn) {
		c.Abort("shutting down")
	})
	peer := rawDial(t, url, protocol.V5)
	ctx := context.Background()
	_, _, err := peer.Read(ctx)
	var ce ws.CloseError
	if !errors.As(err, &ce) || ce.Code != ws.StatusPolicyViolation || ce.Reason != "shutting down" {
		t.Fatalf("got %v, want close 1008 shutting down", err)
	}
	srv := (<-accepted).conn
	<-srv.Done()
	wantConnError(t, srv.Err(), nil)
}

// TestAbortTwice: of two Aborts at once (a session aborting as a writer
// of the same connection fails because of it, and aborts in turn), the
// first reason reaches the peer in a close frame: the second does not
// close the socket under the first's frame. It did, and a client
// acknowledging output not sent got a bare end of stream, not why.
func TestAbortTwice(t *testing.T) {
	for i := range 50 {
		url, accepted, _ := serve(t, nil, func(c *Conn) {
			start := make(chan struct{})
			var wg sync.WaitGroup
			for _, reason := range []string{"first", "second"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					c.Abort(reason)
				}()
			}
			close(start)
			wg.Wait()
		})
		peer := rawDial(t, url, protocol.V5)
		_, _, err := peer.Read(context.Background())
		var ce ws.CloseError
		if !errors.As(err, &ce) || ce.Code != ws.StatusPolicyViolation || (ce.Reason != "first" && ce.Reason != "second") {
			t.Fatalf("round %d: got %v, want close 1008 with either reason", i, err)
		}
		<-(<-accepted).conn.Done()
	}
}

// TestLeave: Leave ends at once with close 1000 and the reason. The peer
// reads a clean end (Err nil: nothing failed, the other side left), while
// the leaving side's Err says it left, both from our client and our server.
func TestLeave(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		url, accepted, _ := serve(t, nil, func(c *Conn) {
			c.Leave("bye")
		})
		peer := rawDial(t, url, protocol.V5)
		_, _, err := peer.Read(context.Background())
		var ce ws.CloseError
		if !errors.As(err, &ce) || ce.Code != ws.StatusNormalClosure || ce.Reason != "bye" {
			t.Fatalf("got %v, want close 1000 bye", err)
		}
		srv := (<-accepted).conn
		<-srv.Done()
		wantConnError(t, srv.Err(), nil)
	})
	t.Run("client", func(t *testing.T) {
		url, accepted, _ := serve(t, nil, func(c *Conn) {
			<-c.Done()
		})
		c, _, err := Dial(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := (<-accepted).conn
		c.Leave("bye")
		wantConnError(t, c.Err(), nil)
		<-srv.Done()
		if err := srv.Err(); err != nil {
			t.Fatalf("server's Err after the client left: %v, want nil", err)
		}
	})
}

// TestPeerVanishes: the peer closes TCP without a close frame: Done fires,
// Err is a ConnError, reads fail with it.
func TestPeerVanishes(t *testing.T) {
	url, accepted, closed := serve(t, nil, func(c *Conn) {
		<-c.Done()
	})
	peer := rawDial(t, url, protocol.V5)
	srv := (<-accepted).conn
	peer.CloseNow()
	<-srv.Done()
	_, err := srv.Channel(channel.Stdin).Read(make([]byte, 1))
	wantConnError(t, err, nil)
	if res := <-closed; res.err == nil {
		t.Fatal("Close after a vanished peer: got nil, want the ConnError")
	}
}

// TestConcurrentWriters: stdout and stderr written at once from two
// goroutines arrive intact, each message whole (one frame each), none
// larger than the server's message size.
func TestConcurrentWriters(t *testing.T) {
	const size = 3<<20 + 7
	out := bytes.Repeat([]byte("o"), size)
	errb := bytes.Repeat([]byte("e"), size)
	url, _, closed := serve(t, nil, func(c *Conn) {
		done := make(chan struct{})
		go func() { c.Channel(channel.Stderr).Write(errb); close(done) }()
		c.Channel(channel.Stdout).Write(out)
		<-done
	})
	peer := rawDial(t, url, protocol.V5)
	var got [3]int
	for got[1] < size || got[2] < size {
		_, m := readMsg(t, peer)
		if len(m) > serverMsgMax {
			t.Fatalf("message of %d bytes, want <= %d", len(m), serverMsgMax)
		}
		want := map[byte]byte{1: 'o', 2: 'e'}[m[0]]
		if want == 0 || bytes.IndexFunc(m[1:], func(r rune) bool { return byte(r) != want }) >= 0 {
			t.Fatalf("message on channel %d mixes data", m[0])
		}
		got[m[0]] += len(m) - 1
	}
	if got[1] != size || got[2] != size {
		t.Fatalf("got %d/%d bytes, want %d each", got[1], got[2], size)
	}
	if code := readClose(t, peer); code != ws.StatusNormalClosure {
		t.Fatalf("close: got %v", code)
	}
	if res := <-closed; res.err != nil {
		t.Fatal(res.err)
	}
}

// TestAbortDuringLinger: Abort cuts short a Close that waits on a peer
// which never reads nor closes (linger of an hour); whichever starts first,
// both return and Err reports the abort.
func TestAbortDuringLinger(t *testing.T) {
	url, _, closed := serve(t, &AcceptOptions{LingerTimeout: time.Hour}, func(c *Conn) {
		done := make(chan struct{})
		go func() { c.Abort("shutdown"); close(done) }()
		c.Close()
		<-done
	})
	rawDial(t, url, protocol.V5) // frozen: never reads, never echoes the close
	res := <-closed
	wantConnError(t, res.err, nil)
}

// TestLargeMessageWithDefaults: one 8 MiB stdin message, as the official
// Python and JavaScript clients send a large write, arrives whole with the
// default read limit (x/net's 32 MiB, like the kubelet and the API
// server); beyond it the client gets close 1009.
func TestLargeMessageWithDefaults(t *testing.T) {
	for _, tc := range []struct {
		version protocol.Version
		size    int
		ok      bool
	}{
		{protocol.WebSocketVersions[0], 8 << 20, true},
		{protocol.WebSocketVersions[0], 33 << 20, false},
	} {
		t.Run(fmt.Sprintf("%s/%d", versionName(tc.version), tc.size), func(t *testing.T) {
			got := make(chan int64, 1)
			url, _, _ := serve(t, &AcceptOptions{Versions: []protocol.Version{tc.version}}, func(c *Conn) {
				n, _ := io.Copy(io.Discard, c.Channel(channel.Stdin))
				got <- n
			})
			c := rawDial(t, url, offer(tc.version)...)
			msg := make([]byte, 1+tc.size)
			msg[0] = channel.Stdin
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c.Write(ctx, ws.MessageBinary, msg)
			if tc.ok {
				c.Write(ctx, ws.MessageBinary, []byte{channel.CloseSignal, channel.Stdin})
				if n := <-got; n != int64(tc.size) {
					t.Errorf("server read %d bytes of stdin, want %d", n, tc.size)
				}
				return
			}
			_, _, err := c.Read(ctx)
			if ws.CloseStatus(err) != ws.StatusMessageTooBig {
				t.Errorf("over the limit: %v, want close 1009", err)
			}
		})
	}
}

// TestClientAbortBlockedWrite: our client aborts while a write of its
// hangs on a server that stopped reading (a process that never reads its
// stdin: the gateway's bridge to a node). The close frame cannot go out
// behind the stuck write, so after abortGrace the socket is closed under
// it: Abort returns, the write fails and the server sees the end. Before,
// a client waited for coder/websocket's write lock (5 s) and then its
// close handshake (5 s more), and the gateway's bridge held the node's
// session that long after its client vanished.
func TestClientAbortBlockedWrite(t *testing.T) {
	url, accepted, _ := serve(t, nil, func(c *Conn) {
		<-c.Done() // never reads stdin
	})
	c, _, err := Dial(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := (<-accepted).conn
	var written atomic.Int64
	werr := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Channel(channel.Stdin).Write(buf)
			written.Add(int64(n))
			if err != nil {
				werr <- err
				return
			}
		}
	}()
	for last := int64(-1); ; {
		time.Sleep(300 * time.Millisecond)
		cur := written.Load()
		if cur == last && cur > 0 {
			break
		}
		last = cur
	}
	start := time.Now()
	c.Abort("client went away")
	if took := time.Since(start); took > abortGrace+2*time.Second {
		t.Errorf("Abort took %v behind a blocked write, want about abortGrace (%v)", took, abortGrace)
	}
	if err := <-werr; err == nil {
		t.Error("the blocked write returned no error")
	}
	select {
	case <-srv.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not see the client's end within 10 s")
	}
}
