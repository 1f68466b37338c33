package gateway

import (
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/porthole/porthole/internal/idle"
	"github.com/porthole/porthole/transport/spdy"
)

type countPinger struct{ n atomic.Int64 }

func (p *countPinger) ping() bool { p.n.Add(1); return true }

func (p *countPinger) touches(*idle.Pinger) {}

// TestKeepAliveStops: the keep-alive timer pings every interval and never
// after its stop returned.
func TestKeepAliveStops(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{opts: Options{KeepAlive: 5 * time.Millisecond}, metrics: m}
	var p countPinger
	k := g.keepAlive(&p)
	deadline := time.Now().Add(10 * time.Second)
	for p.n.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 pings in 10 s at 5 ms")
		}
		time.Sleep(time.Millisecond)
	}
	k.Stop()
	n := p.n.Load()
	time.Sleep(50 * time.Millisecond)
	if got := p.n.Load(); got != n {
		t.Fatalf("%d pings after stop returned", got-n)
	}
}

// TestKeepAliveSkipsBusySplice: on a spliced session the gateway pings the
// client only after an interval in which the upstream sent it nothing
// (see idle.KeepAlive: spdystream answers a PING from a frame worker, so a
// PING into a busy client can stop its connection).
func TestKeepAliveSkipsBusySplice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := newMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		g := &Gateway{opts: Options{KeepAlive: 10 * time.Second}, metrics: m}
		gw, client := net.Pipe()
		sc := newSPDYCloser(gw, "v4.channel.k8s.io", &spdyStreamIDs{})
		var pings atomic.Int32
		read := make(chan struct{})
		go func() {
			defer close(read)
			frames := spdy.FrameScanner{Frame: func(f *spdy.Frame) (bool, error) {
				if f.Control && f.PingID != 0 {
					pings.Add(1)
				}
				return false, nil
			}}
			buf := make([]byte, 4096)
			for {
				n, err := client.Read(buf)
				_ = frames.Feed(buf[:n])
				if err != nil {
					return
				}
			}
		}()
		k := g.keepAlive(sc)
		data := []byte{0, 0, 0, 3, 0, 0, 0, 5, 't', 'i', 'c', 'k', '\n'} // DATA, stream 3
		time.Sleep(time.Second / 2)                                      // off the ticks
		for range 60 {
			if _, err := sc.Write(data); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if n := pings.Load(); n != 0 {
			t.Errorf("%d keep-alive PINGs while the upstream wrote every second, want 0", n)
		}
		time.Sleep(35 * time.Second) // the ticks at 70, 80 and 90 s find nothing written
		synctest.Wait()
		if n := pings.Load(); n != 3 {
			t.Errorf("%d keep-alive PINGs in 35 quiet seconds at 10 s, want 3", n)
		}
		k.Stop()
		gw.Close()
		<-read
	})
}
