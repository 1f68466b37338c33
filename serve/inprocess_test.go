package serve

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/websocket"
)

// countingListener counts the connections it accepted.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestSessionsReachTheNodeInProcess: the gateway hands exec sessions to
// the node in process (gateway.Options.InProcess), without a connection
// to the node's socket, which API requests still take.
func TestSessionsReachTheNodeInProcess(t *testing.T) {
	s, err := New(&Options{Listen: "127.0.0.1:0", Pods: testPods(), Runtime: newFakeRuntime(testPods()...)})
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingListener{Listener: s.sec.inner}
	s.sec.inner = inner
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	for i := range 3 {
		conn, _, err := websocket.Dial(wctx, s.URL()+"/api/v1/namespaces/default/pods/demo/exec?command=date&stdout=true", nil)
		if err != nil {
			t.Fatalf("exec %d: %v", i, err)
		}
		st := readAllChan(conn.Channel(channel.Error))
		go readAllChan(conn.Channel(channel.Stdout))
		// The fake runtime fails every exec: the node's failure status
		// proves the session reached it.
		if got := string(<-st); !strings.Contains(got, "Failure") {
			t.Errorf("exec %d: status %q", i, got)
		}
		conn.Close()
	}
	if n := inner.n.Load(); n != 0 {
		t.Errorf("%d connections to the node's socket for 3 exec sessions, want none", n)
	}
	resp, err := http.Get(s.URL() + "/api/v1/namespaces/apps/pods/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || inner.n.Load() == 0 {
		t.Errorf("pod get: %d with %d connections to the node's socket, want 200 through it", resp.StatusCode, inner.n.Load())
	}
}
