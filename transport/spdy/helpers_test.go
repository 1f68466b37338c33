package spdy

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
)

// testServer upgrades every request with opts and hands out the Conns.
type testServer struct {
	*httptest.Server
	conns chan *Conn
	errs  chan error
	hdrs  chan http.Header // request headers as the handler saw them
}

func newTestServer(t testing.TB, opts *UpgradeOptions) *testServer {
	t.Helper()
	ts := &testServer{conns: make(chan *Conn, 4), errs: make(chan error, 4), hdrs: make(chan http.Header, 4)}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.hdrs <- r.Header.Clone()
		c, err := Upgrade(w, r, opts)
		if err != nil {
			ts.errs <- err
			return
		}
		ts.conns <- c
	}))
	t.Cleanup(ts.Close)
	return ts
}

func serverOpts() *UpgradeOptions {
	return &UpgradeOptions{Protocols: protocol.Names(protocol.SPDYVersions)}
}

// dialPair dials ts and returns both ends; both are closed at cleanup.
func dialPair(t testing.TB, ts *testServer, opts *DialOptions) (client, server *Conn) {
	t.Helper()
	if opts == nil {
		opts = &DialOptions{Protocols: protocol.SPDYClientOffer}
	}
	client, _, err := Dial(context.Background(), ts.URL, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	<-ts.hdrs
	server = <-ts.conns
	t.Cleanup(func() {
		client.Abort("test cleanup")
		server.Abort("test cleanup")
	})
	return client, server
}

// openPair opens a stream from a with the given streamtype and accepts it on b.
func openPair(t testing.TB, a, b *Conn, typ string, extra ...string) (opened, accepted *Stream) {
	t.Helper()
	h := http.Header{}
	h.Set("streamtype", typ)
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	opened, err := a.Open(context.Background(), h)
	if err != nil {
		t.Fatalf("Open %s: %v", typ, err)
	}
	accepted, err = b.Accept(context.Background())
	if err != nil {
		t.Fatalf("Accept %s: %v", typ, err)
	}
	if got := accepted.Headers().Get("streamtype"); got != typ {
		t.Fatalf("accepted streamtype %q, want %q", got, typ)
	}
	return opened, accepted
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// readAllSum reads r to EOF and returns the byte count, the sha256 and the error.
func readAllSum(r io.Reader) (int64, [32]byte, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return n, sum, err
}

// rawExchange sends a hand-written HTTP request to ts and returns the response
// with its body read.
func rawExchange(t *testing.T, ts *testServer, headerLines ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "POST /exec HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n" + strings.Join(headerLines, "\r\n")
	if len(headerLines) > 0 {
		req += "\r\n"
	}
	if _, err := fmt.Fprint(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// newPlainServer serves h on 127.0.0.1 and returns its URL.
func newPlainServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// waitFor polls cond, a state that other goroutines are about to reach.
// It never asserts on elapsed time; the test's deadline bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a failure, never a hang
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("the awaited state never came (a minute)")
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}
