package websocket

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/freezer"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
)

// TestServerKeepAlive: the server ends a connection whose pinging client
// froze; it spares a client that never pings, and one whose pings it
// cannot hear because its own read loop is held up delivering stdin.
func TestServerKeepAlive(t *testing.T) {
	v := protocol.WebSocketVersions[0]
	for _, tc := range []struct {
		name        string
		ping        time.Duration
		flood       bool // the client fills stdin the server does not read
		freeze      bool
		wantTimeout bool
	}{
		{"frozen pinging client", 10 * time.Millisecond, false, true, true},
		{"silent client", -1, false, false, false},
		{"held-up reader", 10 * time.Millisecond, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The timeout is wide enough that a loaded machine's pause
			// between the client's last ping and its first stdin frame
			// reaching the server does not pass for a frozen client
			// (CI45 failed the held-up case with 150 ms); the handler
			// holds its stdin for four timeouts.
			const timeout = 500 * time.Millisecond
			ended := make(chan error, 1)
			url, accepted, _ := serve(t, &AcceptOptions{Versions: []protocol.Version{v}, KeepAliveTimeout: timeout},
				func(c *Conn) {
					select {
					case <-c.Done():
						ended <- c.Err()
					case <-time.After(4 * timeout):
						ended <- nil
					}
					if tc.flood {
						io.Copy(io.Discard, c.Channel(channel.Stdin))
					}
				})
			fz := freezer.New(t, strings.TrimPrefix(url, "ws://"))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			client, _, err := Dial(ctx, "ws://"+fz.Addr(), &DialOptions{Versions: []protocol.Version{v}, PingInterval: tc.ping})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Abort("done")
			server := (<-accepted).conn
			if tc.ping > 0 {
				waitUntil(t, func() bool { return server.peerPings.Load() })
			}
			if tc.flood {
				go client.Channel(channel.Stdin).Write(make([]byte, 64<<20))
			}
			if tc.freeze {
				fz.Freeze()
			}
			err = <-ended
			if got := errors.Is(err, ErrPeerUnresponsive); got != tc.wantTimeout {
				t.Errorf("server connection ended with %v; want unresponsive=%v", err, tc.wantTimeout)
			}
		})
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
