package serve

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/websocket"
)

// TestGatewayInFront: with Options.Gateway, every request is authenticated
// and authorized by the gateway, which reaches the API and the node through
// its private socket.
func TestGatewayInFront(t *testing.T) {
	tokens, err := gateway.ParseTokens(strings.NewReader("tok,alice,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, stop := startServer(t, Options{Pods: testPods(), Runtime: newFakeRuntime(testPods()...),
		Gateway: &gateway.Options{Tokens: tokens}})
	do := func(path, token string) int {
		req, _ := http.NewRequest("GET", s.URL()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("/api/v1/namespaces/apps/pods/api", ""); code != 401 {
		t.Errorf("pod get without token: %d, want 401", code)
	}
	if code := do("/api/v1/namespaces/apps/pods/api", "tok"); code != 200 {
		t.Errorf("pod get with token: %d, want 200", code)
	}
	if code := do("/api/v1/namespaces/default/secrets", "tok"); code != 404 {
		t.Errorf("unproxied path: %d, want 404", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := s.URL() + "/api/v1/namespaces/default/pods/demo/exec?command=date&stdout=true"
	if _, _, err := websocket.Dial(ctx, u, nil); err == nil {
		t.Error("exec without token upgraded")
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: http.Header{"Authorization": {"Bearer tok"}}})
	if err != nil {
		t.Fatalf("exec with token: %v", err)
	}
	st := readAllChan(conn.Channel(channel.Error))
	go readAllChan(conn.Channel(channel.Stdout))
	// The fake runtime fails every exec: the node's failure status proves the
	// session reached it through the gateway.
	if got := <-st; !strings.Contains(string(got), "Failure") {
		t.Errorf("status %q", got)
	}
	conn.Close()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func readAllChan(ch *websocket.Channel) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		var b []byte
		buf := make([]byte, 4096)
		for {
			n, err := ch.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				out <- b
				return
			}
		}
	}()
	return out
}
