package gateway

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type countPinger struct{ n atomic.Int64 }

func (p *countPinger) ping() bool { p.n.Add(1); return true }

// TestKeepAliveStops: the keep-alive timer pings every interval and never
// after its stop returned.
func TestKeepAliveStops(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{opts: Options{KeepAlive: 5 * time.Millisecond}, metrics: m}
	var p countPinger
	stop := g.keepAlive(&p)
	deadline := time.Now().Add(10 * time.Second)
	for p.n.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 pings in 10 s at 5 ms")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	n := p.n.Load()
	time.Sleep(50 * time.Millisecond)
	if got := p.n.Load(); got != n {
		t.Fatalf("%d pings after stop returned", got-n)
	}
}
