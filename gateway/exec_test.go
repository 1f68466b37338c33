package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// TestExecThroughGateway runs exec on every route to porthole's node: WS
// passed through, WS translated to SPDY (the node treated as SPDY-only), and
// SPDY passed through; stdout, stderr, stdin to EOF and exit codes.
func TestExecThroughGateway(t *testing.T) {
	node := startNode(t)
	direct, _ := startGateway(t, node, nil)
	translating, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.SPDY})
	wsOnly, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.WebSocket})
	in := make([]byte, 1<<20)
	for i := range in {
		in[i] = byte(i * 13)
	}
	for _, tc := range []struct {
		name, base string
		ws         bool
	}{
		{"websocket-passthrough", direct, true},
		{"websocket-translated", translating, true},
		{"spdy-passthrough", direct, false},
		{"spdy-to-spdy-only", translating, false},
		{"spdy-translated-to-websocket", wsOnly, false},
		{"websocket-to-websocket-only", wsOnly, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, code := range []int{0, 3, 255} {
				u := execURL(tc.base, []string{"sh", "-c", fmt.Sprintf("printf out; printf err >&2; exit %d", code)}, "stdout", "stderr")
				var out, errOut []byte
				var st string
				if tc.ws {
					out, errOut, st = wsExec(t, u, nil, nil)
				} else {
					var stb []byte
					out, errOut, stb = spdyExec(t, u, nil, nil)
					st = string(stb)
				}
				want := string(status.NewSuccess().Marshal())
				if code != 0 {
					want = string(status.NewExit(code).Marshal())
				}
				if string(out) != "out" || string(errOut) != "err" || st != want {
					t.Errorf("exit %d: got out %q err %q status %s, want %s", code, out, errOut, st, want)
				}
			}
			u := execURL(tc.base, []string{"cat"}, "stdin", "stdout", "stderr")
			var out []byte
			if tc.ws {
				out, _, _ = wsExec(t, u, nil, in)
			} else {
				out, _, _ = spdyExec(t, u, nil, in)
			}
			if sha256.Sum256(out) != sha256.Sum256(in) {
				t.Errorf("stdin echo: got %d bytes, want %d equal bytes (prefix equal %v)", len(out), len(in), bytes.HasPrefix(in, out))
			}
		})
	}
}
