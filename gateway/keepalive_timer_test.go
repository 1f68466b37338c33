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
		echoes := newSPDYEchoFilter(sc.mine)
		echoes.pinger = k                                                   // as wrapClient sets it
		data := []byte{0, 0, 0, 3, 0, 0, 0, 5, 't', 'i', 'c', 'k', '\n'}    // DATA, stream 3
		answer := []byte{0x80, 3, 0, 6, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xfe} // the answer to the first keep-alive
		time.Sleep(time.Second / 2)                                         // off the ticks
		for _, phase := range []struct {
			who  string
			send func() error
		}{
			{"the upstream wrote", func() error { _, err := sc.Write(data); return err }},
			{"the client sent", func() error { echoes.filter(append([]byte(nil), data...)); return nil }},
		} {
			for range 60 {
				if err := phase.send(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second)
			}
			synctest.Wait()
			if n := pings.Load(); n != 0 {
				t.Errorf("%d keep-alive PINGs while %s every second, want 0", n, phase.who)
			}
		}
		// The ticks at 130, 140 and 150 s find nothing moved: the client
		// answers the first ping every second from 131.5 s, and its
		// answers are not traffic.
		for i := range 35 {
			time.Sleep(time.Second)
			if i < 10 {
				continue
			}
			if _, out := echoes.filter(append([]byte(nil), answer...)); len(out) != 0 {
				t.Fatalf("the answer to the keep-alive passed the filter: % x", out)
			}
		}
		synctest.Wait()
		if n := pings.Load(); n != 3 {
			t.Errorf("%d keep-alive PINGs in 35 quiet seconds at 10 s, want 3", n)
		}
		k.Stop()
		gw.Close()
		<-read
	})
}
