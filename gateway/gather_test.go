package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/gather"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// TestInProcessFramesWholeInOneWrite: on serve's in-process path each
// frame of the node's reaches the client's socket in one write call,
// header and payload together (one writev, one packet), not a 10-byte
// WebSocket or 8-byte SPDY header write and then the payload: a WebSocket
// exec's output, and a SPDY port-forward's bytes from the pod.
func TestInProcessFramesWholeInOneWrite(t *testing.T) {
	node := startNode(t)
	u, err := url.Parse(node)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(&gateway.Options{Upstream: u, InProcess: nodeHandlers[node]})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(g)
	rl := &recordingListener{Listener: srv.Listener}
	srv.Listener = rl
	srv.Start()
	defer srv.Close()

	const size = 1 << 20
	t.Run("websocket exec", func(t *testing.T) {
		rec := rl.next(&websocket.FrameScanner{})
		out, _, st := wsExec(t, execURL(srv.URL, []string{"head", "-c", "1048576", "/dev/zero"}, "stdout", "stderr"), nil, nil)
		if len(out) != size || !bytes.Equal(out, make([]byte, size)) || st != string(status.NewSuccess().Marshal()) {
			t.Fatalf("exec: %d bytes of stdout, status %s", len(out), st)
		}
		rec.check(t, 16)
	})
	t.Run("spdy port-forward", func(t *testing.T) {
		rec := rl.next(&spdy.FrameScanner{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, _, err := spdy.Dial(ctx, srv.URL+"/api/v1/namespaces/default/pods/p/portforward",
			&spdy.DialOptions{Protocols: []string{portforward.Name}, PingPeriod: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		port := strconv.Itoa(int(streamtest.EchoServer(t)))
		h := http.Header{}
		h.Set("port", port)
		h.Set("requestid", "0")
		h.Set("streamtype", "error")
		errs, err := conn.Open(ctx, h.Clone())
		if err != nil {
			t.Fatal(err)
		}
		h.Set("streamtype", "data")
		data, err := conn.Open(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		sent := make([]byte, size)
		for i := range sent {
			sent[i] = byte(i * 7)
		}
		go func() {
			_, _ = data.Write(sent)
			_ = data.CloseWrite()
		}()
		got, err := io.ReadAll(data)
		if err != nil || !bytes.Equal(got, sent) {
			t.Fatalf("echo: %d bytes back (%v), want the %d sent", len(got), err, len(sent))
		}
		_ = errs.CloseWrite()
		rec.check(t, 16)
	})
}

// recordingListener hands out connections whose writes a writeRecorder
// follows, the one next set up.
type recordingListener struct {
	net.Listener
	mu  sync.Mutex
	rec *writeRecorder
}

// next makes the connections accepted from now on followed by a new
// recorder, with frames.
func (l *recordingListener) next(frames frameScanner) *writeRecorder {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rec = &writeRecorder{frames: frames}
	return l.rec
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return &recordingConn{Conn: c, rec: l.rec}, nil
}

// recordingConn passes writes on as a socket takes them (a gathered write
// as one writev) and tells rec each write call's bytes.
type recordingConn struct {
	net.Conn
	rec *writeRecorder
}

func (c *recordingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.rec.wrote(p[:n])
	return n, err
}

func (c *recordingConn) WriteBuffers(b *net.Buffers) (int64, error) {
	var all []byte
	for _, p := range *b {
		all = append(all, p...)
	}
	n, err := b.WriteTo(c.Conn)
	c.rec.wrote(all[:n])
	return n, err
}

var _ gather.Writer = (*recordingConn)(nil)

// frameScanner follows a wire's frames: websocket's or spdy's.
type frameScanner interface {
	Feed([]byte) error
	Between() bool
}

// writeRecorder follows one connection's writes: past the HTTP response
// that upgrades it, it counts the write calls and those that ended inside
// a frame.
type writeRecorder struct {
	mu       sync.Mutex
	head     []byte // the response, until its end
	upgraded bool
	frames   frameScanner
	calls    int
	mid      int
}

func (r *writeRecorder) wrote(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.upgraded {
		r.head = append(r.head, p...)
		i := bytes.Index(r.head, []byte("\r\n\r\n"))
		if i < 0 || !bytes.HasPrefix(r.head, []byte("HTTP/1.1 101 ")) {
			return // no upgrade (yet): stays unfollowed
		}
		r.upgraded = true
		if p = r.head[i+4:]; len(p) == 0 {
			return
		}
	}
	r.calls++
	if err := r.frames.Feed(p); err != nil || !r.frames.Between() {
		r.mid++
	}
}

// check fails t unless at least min writes followed the upgrade and each
// ended at a frame's end.
func (r *writeRecorder) check(t *testing.T, min int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls < min {
		t.Fatalf("%d writes after the upgrade, want one per frame of 1 MiB", r.calls)
	}
	if r.mid > 0 {
		t.Errorf("%d of %d writes to the client ended inside a frame: header and payload went out apart", r.mid, r.calls)
	}
}
