package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream/pipe"
)

// TestBridgeWithoutStatusAborts: when the client's connection ended first
// (it may only have half-closed its side, and still read), the bridge has
// no status to give and aborts the client's connection: a graceful end
// (FINs and GOAWAY, close 1000) with an empty error stream would read as
// success. The soak saw porthole's SPDY client exit 0 with part of the
// output when the gateway's graceful end won the race with its socket's
// close.
func TestBridgeWithoutStatusAborts(t *testing.T) {
	for _, name := range []string{protocol.V5, protocol.V4} {
		t.Run(name, func(t *testing.T) {
			v, ok := protocol.Lookup(protocol.WebSocketVersions, name)
			if !ok {
				t.Fatalf("no version %s", name)
			}
			client, ours := pipe.Session(v, protocol.Want{Stdout: true})
			b := &bridge{s: &session{verb: "exec"}, client: ours}
			if out := b.finish(nil, errors.New("client closed the connection")); out != outcomeError {
				t.Errorf("outcome %v, want an error", out)
			}
			st, err := client.ReadStatus()
			if len(st) != 0 || err == nil {
				t.Errorf("error stream: %q, %v; want it broken, not ended", st, err)
			}
			if err := client.Conn.Err(); err == nil || !strings.Contains(err.Error(), "the session ended without a status: client closed the connection") {
				t.Errorf("connection ended with %v, want an abort saying why", err)
			}
		})
	}
}
