package bench

import (
	"os"
	"strconv"
	"testing"
)

// TestCompareClients runs porthole's client and client-go's side by side
// against one porthole serve, alternating, 1 GiB per run, and logs each
// pair: throughput, this process's CPU (the client's, and for port-forward
// the local source and reader too, the same for both) and serve's. It is
// how the tunnel changes of the thirteenth session were measured, and is
// skipped unless BENCH_COMPARE names the pair (pf-ws, pf-spdy, exec-ws,
// exec-spdy); BENCH_RUNS sets the pairs (default 6):
//
//	BENCH_COMPARE=pf-ws go test -run TestCompareClients -v ./bench/
func TestCompareClients(t *testing.T) {
	what := os.Getenv("BENCH_COMPARE")
	if what == "" {
		t.Skip("set BENCH_COMPARE to pf-ws, pf-spdy, exec-ws or exec-spdy")
	}
	runs := 6
	if r, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && r > 0 {
		runs = r
	}
	n := startNode(t, targets(t)[0])
	const size = 1 << 30
	var porthole, clientGo func() (Speed, error)
	switch what {
	case "pf-ws", "pf-spdy":
		w := map[string]PFWire{"pf-ws": Tunnel, "pf-spdy": PlainSPDY}[what]
		porthole = func() (Speed, error) { return PortholePortForwardThroughput(t.Context(), n, w, size) }
		clientGo = func() (Speed, error) { return PortForwardThroughput(t.Context(), n, w, size) }
	case "exec-ws", "exec-spdy":
		w := map[string]Wire{"exec-ws": WebSocket, "exec-spdy": SPDY}[what]
		porthole = func() (Speed, error) { return PortholeThroughput(t.Context(), n, w, size) }
		clientGo = func() (Speed, error) { return Throughput(t.Context(), n, w, size) }
	default:
		t.Fatalf("unknown BENCH_COMPARE %q", what)
	}
	measure := func(f func() (Speed, error)) (Speed, float64) {
		s0, err := selfCPU()
		if err != nil {
			t.Fatal(err)
		}
		sp, err := f()
		if err != nil {
			t.Fatal(err)
		}
		s1, _ := selfCPU()
		return sp, (s1 - s0).Seconds()
	}
	for range runs {
		a, aSelf := measure(clientGo)
		b, bSelf := measure(porthole)
		t.Logf("client-go %.0f MB/s, process %.2f, serve %.2f CPU-s/GiB | porthole %.0f MB/s, process %.2f, serve %.2f CPU-s/GiB",
			a.MBps, aSelf, a.CPU.Seconds(), b.MBps, bSelf, b.CPU.Seconds())
	}
}
