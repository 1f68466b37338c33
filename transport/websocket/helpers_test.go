package websocket

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// allVersions are the server versions under test: every WebSocket version
// plus a client offering none.
var allVersions = append(append([]protocol.Version{}, protocol.WebSocketVersions...), protocol.UnnamedWebSocket)

func versionName(v protocol.Version) string {
	if v.Name == "" {
		return "unnamed"
	}
	return v.Name
}

// result is what a server handler reports back to the test.
type result struct {
	conn *Conn
	err  error
}

// serve starts an httptest server whose handler accepts with opts, runs fn
// and then closes the connection. Accept and close results go to the
// returned channels (buffered).
func serve(t testing.TB, opts *AcceptOptions, fn func(c *Conn)) (url string, accepted, closed chan result) {
	t.Helper()
	accepted = make(chan result, 1024)
	closed = make(chan result, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		report(accepted, result{c, err})
		if err != nil {
			return
		}
		if fn != nil {
			fn(c)
		}
		report(closed, result{c, c.Close()})
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), accepted, closed
}

// report sends r unless ch is full: fuzzing opens more connections than
// any test reads results for.
func report(ch chan result, r result) {
	select {
	case ch <- r:
	default:
	}
}

// rawDial connects a coder/websocket client offering protos in one line; it
// is the scripted peer: the test reads and writes exact messages.
func rawDial(t *testing.T, url string, protos ...string) *ws.Conn {
	t.Helper()
	c, _, err := ws.Dial(context.Background(), url, &ws.DialOptions{Subprotocols: protos})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func offer(v protocol.Version) []string {
	if v.Name == "" {
		return nil
	}
	return []string{v.Name}
}

func dialOpts(v protocol.Version) *DialOptions {
	return &DialOptions{Versions: []protocol.Version{v}, PingInterval: -1}
}

func readMsg(t *testing.T, c *ws.Conn) (ws.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	return typ, b
}

func writeMsg(t *testing.T, c *ws.Conn, typ ws.MessageType, b []byte) {
	t.Helper()
	if err := c.Write(context.Background(), typ, b); err != nil {
		t.Fatalf("write message: %v", err)
	}
}

// readClose reads until the peer's close frame and returns its code.
func readClose(t *testing.T, c *ws.Conn) ws.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			return ws.CloseStatus(err)
		}
	}
}

func wantConnError(t *testing.T, err error, target error) {
	t.Helper()
	var ce *stream.ConnError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *stream.ConnError", err)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("got %v, want it to wrap %v", err, target)
	}
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// newRawServer is a scripted server: coder/websocket answering with proto;
// fn reads and writes exact messages. It returns the ws:// URL.
func newRawServer(t *testing.T, proto string, fn func(c *ws.Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, &ws.AcceptOptions{Subprotocols: []string{proto}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		fn(c)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}
