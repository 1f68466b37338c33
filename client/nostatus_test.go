package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// TestEmptyStatusIsNoStatus: a v4 or v5 server that writes output, then
// ends every stream and the connection cleanly without a Status (a gateway
// that lost it, a server cut off mid-session by a proxy that forged the
// ends) gives ErrNoStatus, not success: those versions always send one.
// Before v4 an empty error stream is success.
func TestEmptyStatusIsNoStatus(t *testing.T) {
	end := func(s *stream.Session) {
		_, _ = s.Stdout.Write([]byte("partial"))
		_ = s.WriteStatus(nil) // half-closes the outputs and the error stream
		_ = s.Conn.Close()     // GOAWAY, or close 1000
	}
	want := protocol.Want{Stdout: true}
	tests := []struct {
		wire    Wire
		version string
		noneOK  bool
	}{
		{WireWebSocket, protocol.V5, false},
		{WireSPDY, protocol.V4, false},
		{WireSPDY, protocol.V3, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.wire)+"/"+tt.version, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.wire == WireSPDY {
					c, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{Protocols: []string{tt.version}})
					if err != nil {
						return
					}
					ctx, cancel := context.WithTimeout(r.Context(), testTimeout)
					defer cancel()
					s, err := c.AcceptSession(ctx, want, testTimeout)
					if err != nil {
						_ = c.Abort(err.Error())
						return
					}
					end(s)
					return
				}
				v, _ := protocol.Lookup(protocol.WebSocketVersions, tt.version)
				c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Versions: []protocol.Version{v}})
				if err != nil {
					return
				}
				end(c.ServerSession(want))
			}))
			t.Cleanup(srv.Close)
			c, err := New(&Config{Host: srv.URL, Wire: tt.wire})
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 3*testTimeout+time.Second)
			defer cancel()
			err = c.Exec(ctx, &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: &out}})
			if out.String() != "partial" {
				t.Errorf("output %q, want %q", out.String(), "partial")
			}
			if tt.noneOK {
				if err != nil {
					t.Fatalf("%s: got %v, want success (no status is success before v4)", tt.version, err)
				}
				return
			}
			if !errors.Is(err, ErrNoStatus) || !strings.Contains(err.Error(), "the error stream ended without one") {
				t.Fatalf("%s: got %v, want ErrNoStatus", tt.version, err)
			}
		})
	}
}
