package gateway_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// wireTap is a TCP proxy in front of an upstream that keeps what the
// gateway sends it and, with resetAt set, resets the gateway's connection
// instead of passing on the first read of the upstream's that contains
// resetAt (as a kube-apiserver does when it closes with bytes unread: the
// reset destroys what it had not sent).
type wireTap struct {
	URL     string
	resetAt []byte

	mu   sync.Mutex
	sent bytes.Buffer // from the gateway, after the HTTP request
}

func startWireTap(t *testing.T, upstream string, resetAt []byte) *wireTap {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	w := &wireTap{resetAt: resetAt}
	port := streamtest.TCPServer(t, func(c net.Conn) {
		up, err := net.Dial("tcp", u.Host)
		if err != nil {
			return
		}
		defer up.Close()
		fromGateway := make(chan struct{})
		go func() {
			defer close(fromGateway)
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				w.mu.Lock()
				w.sent.Write(buf[:n])
				w.mu.Unlock()
				if _, werr := up.Write(buf[:n]); werr != nil || err != nil {
					up.Close()
					return
				}
			}
		}()
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if w.resetAt != nil && bytes.Contains(buf[:n], w.resetAt) {
				c.(*net.TCPConn).SetLinger(0) // the close below is a reset
				break
			}
			if _, werr := c.Write(buf[:n]); werr != nil || err != nil {
				break
			}
		}
		c.Close()
		<-fromGateway
	})
	w.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	return w
}

// frames returns what the gateway sent, past its request's head.
func (w *wireTap) frames(t *testing.T) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.sent.Bytes()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no request head in %q", b)
	}
	return append([]byte(nil), b[i+4:]...)
}

// TestKeepAliveAnswersStayAtTheGateway: the clients answer the gateway's
// keep-alive pings, and the answers do not go upstream. A kube-apiserver
// closes a finished session's connection with whatever it did not read:
// a reset, which destroys the session's end it had not yet sent.
func TestKeepAliveAnswersStayAtTheGateway(t *testing.T) {
	node := startNode(t)
	cmd := []string{"sh", "-c", "sleep 1; echo after-the-quiet"}
	for _, wire := range []string{"websocket", "spdy"} {
		t.Run(wire, func(t *testing.T) {
			tap := startWireTap(t, node, nil)
			reg := prometheus.NewRegistry()
			base, _ := startGateway(t, tap.URL, &gateway.Options{KeepAlive: 20 * time.Millisecond, Registerer: reg})
			// stdin, so that the client sends frames of its own
			u := execURL(base, cmd, "stdin", "stdout", "stderr")
			var out, st string
			if wire == "websocket" {
				o, _, s := wsExec(t, u, nil, []byte("x"))
				out, st = string(o), s
			} else {
				o, _, s := spdyExec(t, u, nil, []byte("x"))
				out, st = string(o), string(s)
			}
			if out != "after-the-quiet\n" || !strings.Contains(st, `"status":"Success"`) {
				t.Errorf("stdout %q, status %q", out, st)
			}
			if n := metricValue(t, reg, "porthole_gateway_keepalive_pings_total", nil); n < 10 {
				t.Fatalf("%v keep-alive pings in a quiet second at 20 ms, want at least 10", n)
			}
			answers, frames := 0, 0
			b := tap.frames(t)
			if wire == "websocket" {
				// Nothing else asks this client for a pong: the node does not ping.
				var s websocket.FrameScanner
				s.Frame = func(f *websocket.Frame) (bool, error) {
					frames++
					if f.Opcode == 0xa {
						answers++
					}
					return false, nil
				}
				if err := s.Feed(b); err != nil {
					t.Fatal(err)
				}
			} else {
				var s spdy.FrameScanner
				s.Frame = func(f *spdy.Frame) (bool, error) { frames++; return f.Control && f.Type == 6, nil }
				s.Payload = func(_ *spdy.Frame, p []byte) {
					if len(p) == 4 && binary.BigEndian.Uint32(p) >= 0x7f000000 {
						answers++
					}
				}
				if err := s.Feed(b); err != nil {
					t.Fatal(err)
				}
			}
			if frames == 0 {
				t.Fatalf("no frames upstream in %d bytes", len(b))
			}
			if answers != 0 {
				t.Errorf("%d answers to the gateway's keep-alive went upstream (of %d frames)", answers, frames)
			}
		})
	}
}

// TestUpstreamResetIsAFailure: an upstream that resets the connection
// before the session's end reached the gateway (a reset destroys what was
// not sent yet) leaves the client with a failure, a SPDY Failure status
// or a WebSocket close frame saying so, never a bare close, which
// client-go's SPDY executor reads as success. The output sent before the
// reset arrives, and the client's streams end with the gateway's word.
func TestUpstreamResetIsAFailure(t *testing.T) {
	node := startNode(t)
	// The tap resets the connection in place of the second line: the
	// process still runs, its streams are open, no status was sent.
	cmd := []string{"sh", "-c", "echo before-the-reset; sleep 0.3; echo reset-here; sleep 5"}
	for _, wire := range []string{"websocket", "spdy"} {
		t.Run(wire, func(t *testing.T) {
			// client-go reads the status once stdout and stderr end: they
			// must end with the gateway's word, not when its lingering
			// close gives up on the client. (Restored after the gateway's
			// shutdown: cleanups run last first.)
			t.Cleanup(gateway.SetCloseLinger(10 * time.Minute))
			tap := startWireTap(t, node, []byte("reset-here"))
			base, _ := startGateway(t, tap.URL, nil)
			u := execURL(base, cmd, "stdout", "stderr")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if wire == "spdy" {
				type result struct{ out, st []byte }
				done := make(chan result, 1)
				go func() {
					out, _, st := spdyExec(t, u, nil, nil)
					done <- result{out, st}
				}()
				// Left waiting, porthole's SPDY client gives up by itself
				// after about 25 s; the gateway's EOF ends it at once.
				var r result
				select {
				case r = <-done:
				case <-time.After(15 * time.Second):
					t.Fatal("the client's streams did not end with the gateway's status")
				}
				out, st := r.out, r.st
				if string(out) != "before-the-reset\n" {
					t.Errorf("stdout %q", out)
				}
				if !strings.Contains(string(st), `"status":"Failure"`) || !strings.Contains(string(st), "reset the connection") {
					t.Errorf("status %q, want a Failure saying the upstream reset the connection", st)
				}
				return
			}
			conn, _, err := websocket.Dial(ctx, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			out, st := streamtest.ReadAll(conn.Channel(channel.Stdout)), streamtest.ReadAll(conn.Channel(channel.Error))
			go io.Copy(io.Discard, conn.Channel(channel.Stderr))
			if o := <-out; string(o) != "before-the-reset\n" {
				t.Errorf("stdout %q", o)
			}
			<-st
			<-conn.Done()
			if err := conn.Err(); err == nil || !(strings.Contains(err.Error(), "1014") || strings.Contains(err.Error(), "BadGateway")) || !strings.Contains(err.Error(), "reset the connection") {
				t.Errorf("client saw %v, want a close 1014 saying the upstream reset the connection", err)
			}
		})
	}
}
