package spdy

import (
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/porthole/porthole/protocol"
)

// TestClosedConnIsGarbage: once closed, an upgraded connection is garbage
// at once. Its keep-alive timer (an hour here) used to hold it until its
// next tick, a closed connection kept for a whole period under churn.
func TestClosedConnIsGarbage(t *testing.T) {
	ts := newTestServer(t, &UpgradeOptions{Protocols: protocol.Names(protocol.SPDYVersions), KeepAlive: time.Hour})
	client, _, err := Dial(context.Background(), ts.URL, &DialOptions{Protocols: protocol.SPDYClientOffer})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	<-ts.hdrs
	server := <-ts.conns
	wp := weak.Make(server)
	if err := client.Close(); err != nil {
		t.Errorf("client Close: %v", err)
	}
	if err := server.Close(); err != nil {
		t.Errorf("server Close: %v", err)
	}
	server = nil
	// Other timers of the connection, stopped at its close, may stay in
	// the runtime's heap until their time: the stall watch's, 1 s.
	for i := 0; wp.Value() != nil; i++ {
		if i == 1000 {
			t.Fatal("the closed server connection is still reachable after 10 s of collections")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
