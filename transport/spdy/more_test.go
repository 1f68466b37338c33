package spdy

import (
	"context"
	"crypto/sha256"
	"io"
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

// Every frame, either way, counts as activity for the idle timeout.
func TestIdleCountsEveryFrame(t *testing.T) {
	now := time.Unix(1000, 0)
	w := newWire(nil, nil, 0, nil)
	w.now = func() time.Time { return now }
	w.touch()
	now = now.Add(time.Hour)
	if got := w.idleFor(); got != time.Hour {
		t.Fatalf("idleFor %v, want 1h", got)
	}
	w.observe(frameBytes(t, observeFrames[5])) // an inbound PING
	if got := w.idleFor(); got != 0 {
		t.Errorf("after inbound PING idleFor %v, want 0", got)
	}
	now = now.Add(time.Minute)
	w.observe(frameBytes(t, observeFrames[2])[:5]) // half a header: no frame yet
	if got := w.idleFor(); got != time.Minute {
		t.Errorf("after half a header idleFor %v, want 1m", got)
	}
}

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
