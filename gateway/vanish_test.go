package gateway_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
)

// TestVanishedIdleSPDYClientEndsSession: an idle SPDY client whose process
// is killed (its kernel closes the socket) ends the session and the exec'd
// process, on every route, translated to a WebSocket-only upstream too.
func TestVanishedIdleSPDYClientEndsSession(t *testing.T) {
	node := startNode(t)
	direct, _ := startGateway(t, node, nil)
	translating, _ := startGateway(t, node, &gateway.Options{SPDYOnlyUpstream: true})
	wsOnly, _ := startGateway(t, node, &gateway.Options{WebSocketOnlyUpstream: true})
	for i, tc := range []struct{ name, base string }{
		{"spdy-passthrough", direct},
		{"spdy-to-spdy-only", translating},
		{"spdy-translated-to-websocket", wsOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := "4343.0" + string(rune('1'+i))
			var raw net.Conn
			var mu sync.Mutex
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			conn, _, err := spdy.Dial(ctx, execURL(tc.base, []string{"sleep", marker}, "stdin", "stdout", "stderr"),
				&spdy.DialOptions{Protocols: protocol.SPDYClientOffer, PingPeriod: -1,
					DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
						c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
						mu.Lock()
						raw = c
						mu.Unlock()
						return c, err
					}})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Abort("test over")
			var outs []stream.Stream
			for _, typ := range []string{"error", "stdin", "stdout", "stderr"} {
				s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
				if err != nil {
					t.Fatalf("open %s: %v", typ, err)
				}
				if typ != "stdin" {
					outs = append(outs, s)
				}
			}
			for _, s := range outs {
				readAll(s)
			}
			waitProc(t, marker, true)
			mu.Lock()
			raw.Close() // what the kernel does for a killed client
			mu.Unlock()
			waitProc(t, marker, false)
		})
	}
}

// waitProc waits until a process whose command line holds marker runs
// (present) or is gone.
func waitProc(t *testing.T, marker string, present bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); procWithMarker(marker) != present; {
		if time.Now().After(deadline) {
			t.Fatalf("process %q: still present=%v", marker, !present)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func procWithMarker(marker string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(marker)) {
			return true
		}
	}
	return false
}
