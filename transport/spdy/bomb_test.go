package spdy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/spdystream/spdy"

	"github.com/porthole/porthole/protocol"
)

// bombAllocLimit is the most a rejected bomb may cost the receiving process,
// all goroutines together. Before the header limits one of these bombs cost
// hundreds of megabytes.
const bombAllocLimit = 4 << 20

// bomb is a header-bearing frame built by spdystream's own framer, so the
// compression (zlib with the SPDY/3 dictionary) is a real peer's.
type bomb struct {
	name  string
	frame spdy.Frame
	limit string // what the error must name
}

// nulValue is n NUL bytes: one header value spdystream splits into n+1
// values, 16 bytes of string header each plus slice growth.
func nulValue(n int) string { return string(make([]byte, n)) }

func bombHeaders(n, size int, value func(int) string) http.Header {
	h := http.Header{}
	for i := range n {
		h.Set(fmt.Sprintf("x-bomb-%d", i), value(size))
	}
	return h
}

func repeatValue(n int) string { return strings.Repeat("a", n) }

func randomValue(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// serverBombs are the frames a client can send: SYN_STREAM, and HEADERS on
// a stream it opened.
func serverBombs() []bomb {
	return []bomb{
		{"nul-separated values", &spdy.SynStreamFrame{StreamId: 1, Headers: bombHeaders(8, 1<<20, nulValue)}, "field"},
		{"repeated values", &spdy.SynStreamFrame{StreamId: 1, Headers: bombHeaders(8, 1<<20, repeatValue)}, "field"},
		{"many fields under the field limit", &spdy.SynStreamFrame{StreamId: 1, Headers: bombHeaders(100, 16<<10, repeatValue)}, "decompressed"},
		{"many headers", &spdy.SynStreamFrame{StreamId: 1, Headers: bombHeaders(5000, 8, func(int) string { return "v" })}, "headers"},
		{"nul-only small block", &spdy.SynStreamFrame{StreamId: 1, Headers: bombHeaders(1, 16<<10, nulValue)}, "values"},
		{"oversized frame", &spdy.SynStreamFrame{StreamId: 1, Headers: bombHeaders(1, 200<<10, randomValue)}, "frame"},
		{"headers frame", &spdy.HeadersFrame{StreamId: 1, Headers: bombHeaders(8, 1<<20, nulValue)}, "field"},
	}
}

// clientBombs are the frames a server can send: SYN_REPLY, HEADERS, and a
// SYN_STREAM of its own.
func clientBombs() []bomb {
	return []bomb{
		{"syn_reply nul-separated", &spdy.SynReplyFrame{StreamId: 1, Headers: bombHeaders(8, 1<<20, nulValue)}, "field"},
		{"headers repeated", &spdy.HeadersFrame{StreamId: 1, Headers: bombHeaders(8, 1<<20, repeatValue)}, "field"},
		{"syn_stream nul-separated", &spdy.SynStreamFrame{StreamId: 2, Headers: bombHeaders(8, 1<<20, nulValue)}, "field"},
		{"syn_reply many fields", &spdy.SynReplyFrame{StreamId: 1, Headers: bombHeaders(100, 16<<10, repeatValue)}, "decompressed"},
	}
}

// encode serialises frames with a fresh framer (one zlib stream, as on a
// new connection).
func encode(t testing.TB, frames ...spdy.Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	f, err := spdy.NewFramer(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		if err := f.WriteFrame(fr); err != nil {
			t.Fatalf("encode %T: %v", fr, err)
		}
	}
	return buf.Bytes()
}

// attack writes wire to the peer of c and returns what c's process
// allocated until c ended (or 10 s passed).
func attack(t *testing.T, c *Conn, raw net.Conn, wire []byte) (allocated uint64, ended bool) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	go func() { _, _ = raw.Write(wire) }()
	select {
	case <-c.Done():
		ended = true
	case <-time.After(10 * time.Second):
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, ended
}

func checkBombOutcome(t *testing.T, b bomb, c *Conn, compressed int, allocated uint64, ended bool) {
	t.Helper()
	t.Logf("%s: %d bytes on the wire, receiver allocated %.1f MB", b.name, compressed, float64(allocated)/(1<<20))
	if !ended {
		t.Fatalf("%s: connection still up 10 s after the bomb", b.name)
	}
	err := c.Err()
	t.Logf("%s: %v", b.name, err)
	if err == nil || !strings.Contains(err.Error(), "limit") || !strings.Contains(err.Error(), b.limit) {
		t.Errorf("%s: Err() = %v, want an error naming the %s limit", b.name, err, b.limit)
	}
	if allocated > bombAllocLimit {
		t.Errorf("%s: receiver allocated %d bytes, want < %d", b.name, allocated, bombAllocLimit)
	}
}

// rawUpgrade opens a SPDY connection to ts by hand, so the test can write
// arbitrary frames, and returns the socket and the server's Conn.
func rawUpgrade(t *testing.T, ts *testServer) (net.Conn, *Conn) {
	t.Helper()
	raw, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	req := "POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
		protocol.HeaderStreamProtocol + ": " + protocol.V4 + "\r\n\r\n"
	if _, err := raw.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(raw), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	<-ts.hdrs
	c := <-ts.conns
	t.Cleanup(func() { c.Abort("test cleanup") })
	return raw, c
}

// A header decompression bomb from a client ends the server's connection
// with an error naming the limit, and costs the server kilobytes.
func TestHeaderBombServer(t *testing.T) {
	for _, b := range serverBombs() {
		t.Run(b.name, func(t *testing.T) {
			var frames []spdy.Frame
			if _, ok := b.frame.(*spdy.HeadersFrame); ok {
				frames = append(frames, &spdy.SynStreamFrame{StreamId: 1, Headers: http.Header{"Streamtype": {"stdin"}}})
			}
			wire := encode(t, append(frames, b.frame)...)
			ts := newTestServer(t, serverOpts())
			raw, server := rawUpgrade(t, ts)
			allocated, ended := attack(t, server, raw, wire)
			checkBombOutcome(t, b, server, len(wire), allocated, ended)
		})
	}
}

// A server's bomb ends a dialing client's connection the same way.
func TestHeaderBombClient(t *testing.T) {
	for _, b := range clientBombs() {
		t.Run(b.name, func(t *testing.T) {
			wire := encode(t, b.frame)
			peer := make(chan net.Conn, 1)
			srv := newFakeSPDYServer(t, peer)
			client, _, err := Dial(t.Context(), srv.URL, &DialOptions{Protocols: protocol.SPDYClientOffer, PingPeriod: -1})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			t.Cleanup(func() { client.Abort("test cleanup") })
			raw := <-peer
			allocated, ended := attack(t, client, raw, wire)
			checkBombOutcome(t, b, client, len(wire), allocated, ended)
		})
	}
}

// Normal traffic still passes: many streams with kubectl-sized headers and
// values joined with NUL, on one connection (one zlib stream).
func TestHeaderLimitsAllowNormalTraffic(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	for i := range 50 {
		h := http.Header{}
		h.Set("streamtype", "data")
		h.Set("port", "8080")
		h.Set("requestid", fmt.Sprint(i))
		h["X-Multi"] = []string{"a", "b", "c"}
		h.Set("x-big", strings.Repeat("z", 4<<10))
		s, err := client.Open(t.Context(), h)
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		acc, err := server.Accept(t.Context())
		if err != nil {
			t.Fatalf("Accept %d: %v", i, err)
		}
		got := acc.Headers()
		if got.Get("requestid") != fmt.Sprint(i) || len(got["X-Multi"]) != 3 || len(got.Get("x-big")) != 4<<10 {
			t.Fatalf("stream %d headers: %v", i, got)
		}
		_ = s.Reset()
	}
}

// newFakeSPDYServer answers every request with a 101 for SPDY/3.1 and hands
// the hijacked socket to the test.
func newFakeSPDYServer(t *testing.T, peer chan<- net.Conn) *testServer {
	t.Helper()
	ts := &testServer{}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", HeaderSPDY31)
		w.Header().Set(protocol.HeaderStreamProtocol, protocol.V4)
		w.WriteHeader(http.StatusSwitchingProtocols)
		raw, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { raw.Close() })
		peer <- raw
	})
	ts.Server = httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}
