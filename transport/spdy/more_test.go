package spdy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
)

// spdystream answers a PING of the other side's parity; the client's Ping
// returns only on that answer.
func TestServerAnswersPing(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, _ := dialPair(t, ts, &DialOptions{Protocols: protocol.SPDYClientOffer, PingPeriod: -1})
	for i := 0; i < 3; i++ {
		if _, err := client.sc.Ping(); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
}

// Every frame, either way, counts as activity for the idle timeout, once
// it is complete.
func TestIdleCountsEveryFrame(t *testing.T) {
	w := newWire(nil, nil, 0, nil)
	n := 0
	w.active = func() { n++ }
	w.observe(frameBytes(t, observeFrames[5])) // an inbound PING
	if n != 1 {
		t.Errorf("after an inbound PING: %d activities, want 1", n)
	}
	half := frameBytes(t, observeFrames[2])
	w.observe(half[:5]) // half a header: no frame yet
	if n != 1 {
		t.Errorf("after half a header: %d activities, want 1", n)
	}
	w.observe(half[5:])
	if n != 2 {
		t.Errorf("after the rest of the frame: %d activities, want 2", n)
	}
	var out bytes.Buffer
	w.Conn = nopConn{&out}
	if _, err := w.Write(frameBytes(t, observeFrames[5])); err != nil || n != 3 {
		t.Errorf("after an outbound PING: %d activities (%v), want 3", n, err)
	}
}

// nopConn is a net.Conn that writes to w.
type nopConn struct{ w io.Writer }

func (c nopConn) Write(p []byte) (int, error)    { return c.w.Write(p) }
func (nopConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (nopConn) Close() error                     { return nil }
func (nopConn) LocalAddr() net.Addr              { return nil }
func (nopConn) RemoteAddr() net.Addr             { return nil }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }

// Streams the server has not taken wait in the accept queue, then in the
// worker that received them; Accept returns them all, answered, in order.
func TestAcceptQueueFull(t *testing.T) {
	opts := serverOpts()
	opts.StreamQueue = 1
	ts := newTestServer(t, opts)
	client, server := dialPair(t, ts, nil)
	var opened []*Stream
	for _, typ := range []string{"error", "stdin", "stdout"} {
		s, err := client.Open(context.Background(), http.Header{"Streamtype": {typ}})
		if err != nil {
			t.Fatalf("Open %s: %v", typ, err)
		}
		opened = append(opened, s)
	}
	for i, typ := range []string{"error", "stdin", "stdout"} {
		s, err := server.Accept(context.Background())
		if err != nil || s.Headers().Get("streamtype") != typ || s.ID() != opened[i].ID() {
			t.Fatalf("Accept %d: %v %v, want %s", i, err, s.Headers(), typ)
		}
	}
}

// Dial over TLS (ALPN http/1.1) and a lingering close through tls.Conn.
func TestTLS(t *testing.T) {
	conns := make(chan *Conn, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, serverOpts())
		if err == nil {
			conns <- c
		}
	}))
	defer srv.Close()
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	client, _, err := Dial(context.Background(), srv.URL, &DialOptions{Protocols: protocol.SPDYClientOffer, TLSConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	server := <-conns
	cOut, sOut := openPair(t, client, server, "stdout")
	payload := randomBytes(t, 2<<20)
	go func() {
		sOut.Write(payload)
		sOut.CloseWrite()
		server.Close()
	}()
	n, sum, err := readAllSum(cOut)
	if err != nil || n != int64(len(payload)) || sum != sha256.Sum256(payload) {
		t.Fatalf("read %d, %v", n, err)
	}
	<-client.Done()
	if err := client.Err(); err != nil {
		t.Errorf("client Err %v", err)
	}
	client.Close()
	server.Close()
	if err := server.Err(); err != nil {
		t.Errorf("server Err %v", err)
	}
	if _, err := io.ReadAll(cOut); err != nil {
		t.Errorf("read after close: %v", err)
	}
}
