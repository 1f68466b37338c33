package websocket

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/portforward"
)

// TestClosedConnIsGarbage: once closed, an accepted connection and tunnel
// are garbage at once. Their keep-alive timer (an hour here) used to hold
// them until its next tick, a closed connection kept for a whole period
// under churn.
func TestClosedConnIsGarbage(t *testing.T) {
	v := protocol.WebSocketVersions[0]
	for _, tc := range []struct {
		name string
		// accept takes the request, closes what it accepted, and returns
		// a check of whether that is still reachable.
		accept func(w http.ResponseWriter, r *http.Request) (alive func() bool, err error)
		// dial connects and returns a wait for the server's close, which
		// then closes the client.
		dial func(ctx context.Context, url string) (end func(), err error)
	}{
		{"conn",
			func(w http.ResponseWriter, r *http.Request) (func() bool, error) {
				c, err := Accept(w, r, &AcceptOptions{Versions: []protocol.Version{v}, KeepAlive: time.Hour})
				if err != nil {
					return nil, err
				}
				wp := weak.Make(c)
				return func() bool { return wp.Value() != nil }, c.Close()
			},
			func(ctx context.Context, url string) (func(), error) {
				c, _, err := Dial(ctx, url, &DialOptions{Versions: []protocol.Version{v}})
				if err != nil {
					return nil, err
				}
				return func() { <-c.Done(); c.Close() }, nil
			}},
		{"tunnel",
			func(w http.ResponseWriter, r *http.Request) (func() bool, error) {
				tun, err := AcceptTunnel(w, r, &TunnelOptions{Protocols: []string{portforward.Name}, KeepAlive: time.Hour})
				if err != nil {
					return nil, err
				}
				wp := weak.Make(tun)
				return func() bool { return wp.Value() != nil }, tun.Close()
			},
			func(ctx context.Context, url string) (func(), error) {
				c, _, err := DialTunnel(ctx, url, &TunnelDialOptions{})
				if err != nil {
					return nil, err
				}
				return func() { io.Copy(io.Discard, c); c.Close() }, nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks := make(chan func() bool, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				alive, err := tc.accept(w, r)
				if err != nil {
					t.Errorf("accept or close: %v", err)
				}
				checks <- alive
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			end, err := tc.dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
			if err != nil {
				t.Fatal(err)
			}
			end()
			alive := <-checks
			if alive == nil {
				return
			}
			// Other timers of the connection, stopped at its close, may
			// stay in the runtime's heap until their time: the keep-alive
			// timeout's watch (20 s by default) re-arms every 5 s.
			for i := 0; alive(); i++ {
				if i == 1000 {
					t.Fatal("the closed server side is still reachable after 10 s of collections")
				}
				runtime.GC()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
