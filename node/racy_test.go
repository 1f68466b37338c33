package node_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/websocket"
)

// TestRacyKubectlGetsAHead: kubectl 1.29 to 1.33 drops WebSocket messages
// that arrive before it has created its streams; for those clients the
// node starts the process no sooner than 50 ms after the upgrade, so even
// a command that ends at once cannot beat them. Others are not held.
func TestRacyKubectlGetsAHead(t *testing.T) {
	base := startNode(t)
	for _, tc := range []struct {
		ua   string
		held bool
	}{
		{"kubectl/v1.32.3 (linux/amd64) kubernetes/abcdef0", true},
		{"kubectl/v1.29.0 (linux/amd64) kubernetes/abcdef0", true},
		{"kubectl/v1.33.1 (linux/amd64) kubernetes/abcdef0", true},
		{"kubectl.1.31/v1.31.4 (linux/amd64) kubernetes/abcdef0", true},
		{"kubectl/v1.34.0 (linux/amd64) kubernetes/abcdef0", false},
		{"kubectl/v1.3.0", false},
		{"Go-http-client/1.1", false},
	} {
		t.Run(tc.ua, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			u := base + "/api/v1/namespaces/default/pods/p/exec?command=true&stdout=true"
			// Timed from before the dial: the hold starts when the node
			// accepts, which is after this, and the 101 can reach us some
			// time after the hold began, so timing from Dial's return
			// would not be a bound.
			start := time.Now()
			conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Versions: protocol.WebSocketVersions[:1],
				Header: http.Header{"User-Agent": {tc.ua}}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			go io.Copy(io.Discard, conn.Channel(channel.Stdout))
			st, err := io.ReadAll(conn.Channel(channel.Error))
			took := time.Since(start)
			if err != nil || !strings.Contains(string(st), "Success") {
				t.Fatalf("status %q %v", st, err)
			}
			// A lower bound only: the hold guarantees it; nothing is
			// asserted about how fast an unheld session is.
			if tc.held && took < 50*time.Millisecond {
				t.Errorf("status %v after the dial began, want at least the 50 ms hold", took)
			}
		})
	}
}
