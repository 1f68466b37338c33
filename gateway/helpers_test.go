package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startNode serves pod "p" (container "c") from a local runtime on
// 127.0.0.1 and returns its base URL.
func startNode(t *testing.T) string {
	return registerNode(t, streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, nil))
}

// registerNode makes n one that startGateway may serve in process, and
// returns its base URL.
func registerNode(t *testing.T, n *streamtest.Node) string {
	nodeHandlers[n.URL] = n.Node
	t.Cleanup(func() { delete(nodeHandlers, n.URL) })
	return n.URL
}

// inProcess, while TestInProcess runs the tests it names, makes
// startGateway serve a node of startNode's in process
// (Options.InProcess) instead of dialling it; inProcessServed counts the
// requests it handed the node that way. No gateway test runs in parallel.
var (
	inProcess       bool
	inProcessServed atomic.Int64
	nodeHandlers    = map[string]http.Handler{}
)

// inProcessSessions, while TestInProcessSessions runs the tests it names,
// makes startGateway run the sessions it bridges on a node of startNode's
// through in-process sessions (Options.InProcessSessions, as porthole
// serve does); sessionsServed counts them.
var (
	inProcessSessions bool
	sessionsServed    atomic.Int64
)

// wantBridgedWire is the upstream wire the sessions API and the audit
// report for a bridged session of these tests' gateways.
func wantBridgedWire() string {
	if inProcessSessions {
		return string(protocol.InProcess)
	}
	return string(protocol.WebSocket)
}

// countedSessions counts the sessions a SessionServer starts.
type countedSessions struct{ gateway.SessionServer }

func (c countedSessions) ServeSession(r *http.Request) (*stream.Session, error) {
	sessionsServed.Add(1)
	return c.SessionServer.ServeSession(r)
}

// startGateway serves a gateway in front of upstream on 127.0.0.1.
func startGateway(t *testing.T, upstream string, opts *gateway.Options) (string, *gateway.Gateway) {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	o := gateway.Options{}
	if opts != nil {
		o = *opts
	}
	o.Upstream = u
	if ss, ok := nodeHandlers[upstream].(gateway.SessionServer); inProcessSessions && ok && o.InProcessSessions == nil {
		o.InProcessSessions = countedSessions{ss}
	}
	if h := nodeHandlers[upstream]; inProcess && h != nil && o.InProcess == nil {
		o.InProcess = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inProcessServed.Add(1)
			h.ServeHTTP(w, r)
		})
	}
	g, err := gateway.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
		srv.Close()
	})
	return srv.URL, g
}

func execURL(base string, cmd []string, flags ...string) string {
	q := url.Values{"command": cmd}
	for _, f := range flags {
		q.Set(f, "true")
	}
	return base + "/api/v1/namespaces/default/pods/p/exec?" + q.Encode()
}

// wsExec runs an exec over WebSocket v5 and returns stdout, stderr and the
// error channel's content.
func wsExec(t *testing.T, u string, header http.Header, stdin []byte) (out, errOut []byte, st string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: header})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	o, e, s := streamtest.ReadAll(conn.Channel(channel.Stdout)), streamtest.ReadAll(conn.Channel(channel.Stderr)), streamtest.ReadAll(conn.Channel(channel.Error))
	if stdin != nil {
		if _, err := conn.Channel(channel.Stdin).Write(stdin); err != nil {
			t.Fatalf("write stdin: %v", err)
		}
		if err := conn.Channel(channel.Stdin).CloseWrite(); err != nil {
			t.Fatalf("close stdin: %v", err)
		}
	}
	out, errOut, stb := <-o, <-e, <-s
	<-conn.Done()
	if err := conn.Err(); err != nil {
		t.Errorf("connection did not end cleanly: %v", err)
	}
	return out, errOut, string(stb)
}

// spdyExec runs an exec over SPDY with client-go's offer and streams.
func spdyExec(t *testing.T, u string, header http.Header, stdin []byte) (out, errOut, st []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: protocol.SPDYClientOffer, Header: header})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	sess, err := conn.OpenSession(ctx, protocol.Want{Stdin: stdin != nil, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatalf("open streams: %v", err)
	}
	return streamtest.RunSession(t, sess, stdin)
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// spdyCat opens `cat` with stdin and stdout over SPDY v4 through gw and
// waits for an echo, so the session is live. It returns what arrives on
// the error stream (when it ends) and stdout.
func spdyCat(t *testing.T, ctx context.Context, gw string) (status <-chan []byte, stdout stream.Stream) {
	t.Helper()
	conn, _, err := spdy.Dial(ctx, execURL(gw, []string{"cat"}, "stdin", "stdout"), &spdy.DialOptions{Protocols: []string{protocol.V4}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	open := func(typ string) stream.Stream {
		s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
		if err != nil {
			t.Fatalf("open %s: %v", typ, err)
		}
		return s
	}
	status = streamtest.ReadAll(open("error"))
	stdin, stdout := open("stdin"), open("stdout")
	stdin.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	return status, stdout
}

// wsCat opens `cat` with stdin and stdout over WebSocket v5 through gw and
// waits for an echo, so the session is live.
func wsCat(t *testing.T, ctx context.Context, gw string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, execURL(gw, []string{"cat"}, "stdin", "stdout"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.Channel(channel.Stdin).Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn.Channel(channel.Stdout), buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	return conn
}
