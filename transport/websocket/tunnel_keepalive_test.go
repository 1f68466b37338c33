package websocket

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/porthole/porthole/protocol/portforward"
)

// TestTunnelKeepAlivePings: an accepted tunnel with KeepAlive pings its
// quiet client every period (the client's pongs are no tunnel bytes), the
// bytes either way are untouched, and the pings stop with the tunnel.
func TestTunnelKeepAlivePings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		count := 0
		pings := func() int { mu.Lock(); defer mu.Unlock(); return count }
		accepted := make(chan *Tunnel, 1)
		hc, stop := servePipe(func(w http.ResponseWriter, r *http.Request) {
			tun, err := AcceptTunnel(w, r, &TunnelOptions{Protocols: []string{portforward.Name}, LingerTimeout: time.Second,
				KeepAlive: 10 * time.Second, OnKeepAlive: func() { mu.Lock(); count++; mu.Unlock() }})
			if err != nil {
				t.Errorf("AcceptTunnel: %v", err)
				return
			}
			accepted <- tun
		})
		defer stop()
		c, _, err := DialTunnel(context.Background(), "ws://pipe/", &TunnelDialOptions{HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		// Both sides read throughout, as a splice does: the client's reads
		// answer the pings, the server's take the answers (net.Pipe holds
		// no bytes).
		got, up := make(chan []byte, 1), make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(c)
			got <- b
		}()
		go func() {
			b, _ := io.ReadAll(s)
			up <- b
		}()
		time.Sleep(55 * time.Second)
		synctest.Wait()
		if n := pings(); n != 5 {
			t.Errorf("%d keep-alive pings in 55 s at 10 s, want 5", n)
		}
		if _, err := c.Write([]byte("up")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte("down")); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
		if b := <-got; string(b) != "down" {
			t.Errorf("client read %q, want the server's bytes alone", b)
		}
		c.Close()
		if b := <-up; string(b) != "up" {
			t.Errorf("server read %q, want the client's bytes alone", b)
		}
		before := pings()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if n := pings(); n != before {
			t.Errorf("%d keep-alive pings after the tunnel closed", n-before)
		}
	})
}
