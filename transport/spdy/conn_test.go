package spdy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	mobyspdy "github.com/moby/spdystream/spdy"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

var _ stream.Conn = (*Conn)(nil)
var _ stream.Stream = (*Stream)(nil)
var _ io.ReaderFrom = (*Stream)(nil)

// An exec-shaped session: error, stdin, stdout opened in client-go's order;
// stdin echoed to stdout only after stdin's FIN (the other direction keeps
// flowing after a half-close); status on the error stream; graceful close.
func TestExecSession(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	if client.Protocol() != protocol.V4 || server.Protocol() != protocol.V4 {
		t.Fatalf("protocols %q/%q, want %q", client.Protocol(), server.Protocol(), protocol.V4)
	}
	cErr, sErr := openPair(t, client, server, "error")
	cIn, sIn := openPair(t, client, server, "stdin")
	cOut, sOut := openPair(t, client, server, "stdout")
	for i, s := range []*Stream{sErr, sIn, sOut} {
		if want := uint32(2*i + 1); s.ID() != want {
			t.Errorf("stream %d has ID %d, want %d", i, s.ID(), want)
		}
	}

	input := randomBytes(t, 3<<20+12345)
	status := []byte(`{"metadata":{},"status":"Success"}`)
	serverDone := make(chan error, 1)
	go func() { serverDone <- runEchoServer(server, sIn, sOut, sErr, status) }()

	writeDone := make(chan error, 1)
	go func() {
		_, err := cIn.Write(input)
		if err == nil {
			err = cIn.CloseWrite()
		}
		writeDone <- err
	}()
	n, sum, err := readAllSum(cOut)
	if err != nil || n != int64(len(input)) || sum != sha256.Sum256(input) {
		t.Fatalf("stdout: %d bytes, err %v, sum match %v; want %d bytes", n, err, sum == sha256.Sum256(input), len(input))
	}
	if err := <-writeDone; err != nil {
		t.Fatalf("stdin: %v", err)
	}
	got, err := io.ReadAll(cErr)
	if err != nil || !bytes.Equal(got, status) {
		t.Fatalf("error stream %q, %v; want %q", got, err, status)
	}
	if err := <-serverDone; err != nil {
		t.Fatal(err)
	}
	<-client.Done()
	if err := client.Err(); err != nil {
		t.Errorf("client Err after server GOAWAY: %v", err)
	}
	if err := server.Err(); err != nil {
		t.Errorf("server Err after Close: %v", err)
	}
	client.Close()
}

// runEchoServer reads stdin to EOF, then writes it to stdout through
// io.Copy (exercising ReadFrom), then the status, then closes like the node.
func runEchoServer(c *Conn, in, out, errs *Stream, status []byte) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, in); err != nil {
		return err
	}
	if _, err := io.Copy(out, &buf); err != nil {
		return err
	}
	if err := out.CloseWrite(); err != nil {
		return err
	}
	if _, err := errs.Write(status); err != nil {
		return err
	}
	if err := errs.CloseWrite(); err != nil {
		return err
	}
	return c.Close()
}

// RST_STREAM from the peer reads as EOF after the data sent before it; a
// local Reset makes Read return stream.ErrClosed; Write after Reset fails.
func TestResetReadsAsEOF(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	cOut, sOut := openPair(t, client, server, "stdout")
	if _, err := sOut.Write([]byte("before reset")); err != nil {
		t.Fatal(err)
	}
	if err := sOut.Reset(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(cOut)
	if err != nil || string(got) != "before reset" {
		t.Fatalf("read %q, %v; want %q, nil", got, err, "before reset")
	}
	if _, err := sOut.Write([]byte("x")); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Write after Reset: %v, want ErrClosed", err)
	}
	if _, err := sOut.Read(make([]byte, 1)); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Read after local Reset: %v, want ErrClosed", err)
	}

	// The other way round, and FIN then RST from the client.
	cIn, sIn := openPair(t, client, server, "stdin")
	if _, err := cIn.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := cIn.Reset(); err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(sIn)
	if err != nil || string(got) != "abc" {
		t.Fatalf("server read %q, %v; want %q, nil", got, err, "abc")
	}
}

// The server may open streams too (IDs 2, 4...): the roles swapped.
func TestServerOpensStream(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	sS, cS := openPair(t, server, client, "data", "port", "8080", "requestid", "0")
	if sS.ID() != 2 || cS.Headers().Get("port") != "8080" || cS.Headers().Get("requestid") != "0" {
		t.Fatalf("id %d headers %v", sS.ID(), cS.Headers())
	}
	payload := randomBytes(t, 1<<20)
	go func() {
		cS.Write(payload)
		cS.CloseWrite()
	}()
	n, sum, err := readAllSum(sS)
	if err != nil || n != int64(len(payload)) || sum != sha256.Sum256(payload) {
		t.Fatalf("read %d, %v", n, err)
	}
}

// Streams over MaxStreams are refused with RST_STREAM; a stream both sides
// finished frees its slot.
func TestMaxStreams(t *testing.T) {
	opts := serverOpts()
	opts.MaxStreams = 2
	ts := newTestServer(t, opts)
	client, server := dialPair(t, ts, nil)
	c1, s1 := openPair(t, client, server, "a")
	openPair(t, client, server, "b")
	if _, err := client.Open(context.Background(), http.Header{"streamtype": {"c"}}); !errors.Is(err, ErrRefused) {
		t.Fatalf("third Open: %v, want ErrRefused", err)
	}
	// Client half-closes, server reads EOF and half-closes: the slot is free
	// once the server's watcher saw the FIN.
	c1.CloseWrite()
	if _, err := io.ReadAll(s1); err != nil {
		t.Fatal(err)
	}
	s1.CloseWrite()
	if _, err := io.ReadAll(c1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { server.mu.Lock(); defer server.mu.Unlock(); return len(server.streams) == 1 })
	openPair(t, client, server, "d")
}

// Bytes the client sends right behind its request, before the 101, are
// already buffered by net/http at hijack time; they must reach spdystream.
func TestBytesAfterRequestKept(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	var frames bytes.Buffer
	fr, err := mobyspdy.NewFramer(&frames, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteFrame(&mobyspdy.SynStreamFrame{StreamId: 1, Headers: http.Header{"streamtype": {"error"}}}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteFrame(&mobyspdy.DataFrame{StreamId: 1, Data: []byte("early")}); err != nil {
		t.Fatal(err)
	}
	raw, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	req := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"
	if _, err := raw.Write(append([]byte(req), frames.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	<-ts.hdrs
	server := <-ts.conns
	defer server.Abort("test done")
	s, err := server.Accept(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := s.Read(buf)
	if err != nil || string(buf[:n]) != "early" || s.Headers().Get("streamtype") != "error" {
		t.Fatalf("read %q, %v, headers %v", buf[:n], err, s.Headers())
	}
}

// A client Close ends the server's side gracefully: Done, Err nil, and
// Accept reports io.EOF.
func TestClientCloseEndsServer(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	cS, sS := openPair(t, client, server, "stdin")
	cS.CloseWrite()
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	<-server.Done()
	if err := server.Err(); err != nil {
		t.Errorf("server Err: %v", err)
	}
	if _, err := server.Accept(context.Background()); err != io.EOF {
		t.Errorf("Accept after peer GOAWAY: %v, want io.EOF", err)
	}
	if _, err := io.ReadAll(sS); err != nil {
		t.Errorf("server read of a FIN'd stream: %v", err)
	}
	if _, err := client.Open(context.Background(), nil); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Open after Close: %v, want ErrClosed", err)
	}
	server.Close()
}

// A peer that vanishes (TCP closed, no GOAWAY) ends the connection with a
// ConnError, and a stream it had not ended reads as a failure, not EOF.
func TestPeerVanishes(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	_, sS := openPair(t, client, server, "stdin")
	client.Abort("vanish")
	<-server.Done()
	var ce *stream.ConnError
	if err := server.Err(); !errors.As(err, &ce) {
		t.Fatalf("server Err %v, want *stream.ConnError", err)
	}
	if _, err := io.ReadAll(sS); !errors.As(err, &ce) {
		t.Errorf("read of an unfinished stream: %v, want *stream.ConnError", err)
	}
	if err := client.Err(); !errors.As(err, &ce) || ce.Op != "abort" {
		t.Errorf("client Err %v, want abort ConnError", err)
	}
	server.Close()
}

func TestIdleTimeout(t *testing.T) {
	opts := serverOpts()
	opts.IdleTimeout = 100 * 1e6 // 100ms; the test waits for the outcome, not for a duration
	ts := newTestServer(t, opts)
	client, server := dialPair(t, ts, &DialOptions{Protocols: []string{protocol.V4}, PingPeriod: -1})
	<-server.Done()
	if err := server.Err(); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("server Err %v, want ErrIdleTimeout", err)
	}
	<-client.Done() // the server's GOAWAY
	server.Close()
	client.Close()
}

// TestServerKeepAlivePings: a server with KeepAlive PINGs a quiet client
// (which answers, as SPDY requires), yet the idle timeout still ends the
// connection: neither the PINGs nor their answers are activity, and the
// answers do not make the client one that pings (whose silence the
// keep-alive timeout would judge).
func TestServerKeepAlivePings(t *testing.T) {
	opts := serverOpts()
	opts.IdleTimeout = 500 * time.Millisecond
	opts.KeepAlive = 20 * time.Millisecond
	opts.KeepAliveTimeout = 100 * time.Millisecond
	var sent atomic.Int64
	opts.OnKeepAlive = func() { sent.Add(1) }
	ts := newTestServer(t, opts)
	client, server := dialPair(t, ts, &DialOptions{Protocols: []string{protocol.V4}, PingPeriod: -1})
	select {
	case <-server.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("still open 10 s into an idle timeout of 500 ms: the keep-alive counted as activity")
	}
	if err := server.Err(); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("server Err %v, want ErrIdleTimeout", err)
	}
	if n := sent.Load(); n < 10 {
		t.Errorf("%d keep-alive PINGs in the idle half second at 20 ms, want at least 10", n)
	}
	if server.peerPings.Load() {
		t.Error("the client's answers made it a client that pings")
	}
	<-client.Done()
	server.Close()
	client.Close()
}
