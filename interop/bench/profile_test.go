package bench

import (
	"bytes"
	"context"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestProfile takes an 8 s CPU profile of a porthole process (served with
// --profiling) while one throughput row runs through it in a loop, into the
// file $BENCH_PROFILE names; without it the test is skipped. $BENCH_ROW
// picks the row: translation (the gateway, the default), exec-ws, exec-v4
// and exec-spdy (porthole serve under client-go's executor), pf-tunnel and
// pf-spdy (porthole serve under client-go's forwarder), pf-porthole-ws and
// pf-porthole-spdy (porthole's forwarder), start-ws, start-spdy and
// start-v4 (porthole serve starting `true`, 50 at a time); client-ws,
// client-spdy, clientgo-ws and clientgo-spdy profile this process instead,
// porthole's client or client-go's executor reading exec output from
// porthole serve (BENCH_SELF=1 does the same for any row: the forwarders
// of the pf rows run in this process). It is how those paths were profiled:
//
//	BENCH_PROFILE=/tmp/gw.prof go test -run TestProfile -v ./bench/
//	go tool pprof -top /tmp/gw.prof
func TestProfile(t *testing.T) {
	out := os.Getenv("BENCH_PROFILE")
	if out == "" {
		t.Skip("set BENCH_PROFILE to a file to profile the gateway or porthole serve")
	}
	var n *Node
	var run func(ctx context.Context) (Speed, error)
	var starts func(ctx context.Context) (time.Duration, error)
	self := os.Getenv("BENCH_SELF") != "" // profile this process (the client), not the server
	const size = 128 << 20
	switch row := os.Getenv("BENCH_ROW"); row {
	case "client-ws", "client-spdy", "clientgo-ws", "clientgo-spdy":
		w := map[bool]Wire{false: WebSocket, true: SPDY}[strings.HasSuffix(row, "spdy")]
		n = startNode(t, targets(t)[0])
		self = true
		if strings.HasPrefix(row, "clientgo") {
			run = func(ctx context.Context) (Speed, error) { return Throughput(ctx, n, w, size) }
		} else {
			run = func(ctx context.Context) (Speed, error) { return PortholeThroughput(ctx, n, w, size) }
		}
	case "exec-ws", "exec-spdy", "exec-v4":
		w := map[string]Wire{"exec-ws": WebSocket, "exec-spdy": SPDY, "exec-v4": WebSocketV4}[row]
		n = startNode(t, targets(t)[0])
		run = func(ctx context.Context) (Speed, error) { return Throughput(ctx, n, w, size) }
	case "", "translation":
		n = translationNodes(t)[0]
		run = func(ctx context.Context) (Speed, error) { return Throughput(ctx, n, WebSocket, size) }
	case "pf-tunnel", "pf-spdy":
		w := map[string]PFWire{"pf-tunnel": Tunnel, "pf-spdy": PlainSPDY}[row]
		n = startNode(t, targets(t)[0])
		run = func(ctx context.Context) (Speed, error) { return PortForwardThroughput(ctx, n, w, size) }
	case "pf-porthole-ws", "pf-porthole-spdy":
		w := map[string]PFWire{"pf-porthole-ws": Tunnel, "pf-porthole-spdy": PlainSPDY}[row]
		n = startNode(t, targets(t)[0])
		run = func(ctx context.Context) (Speed, error) { return PortholePortForwardThroughput(ctx, n, w, size) }
	case "start-ws", "start-spdy", "start-v4":
		w := map[string]Wire{"start-ws": WebSocket, "start-spdy": SPDY, "start-v4": WebSocketV4}[row]
		n = startNode(t, targets(t)[0])
		starts = func(ctx context.Context) (time.Duration, error) { return StartLatency(ctx, n, w, 50) }
	default:
		t.Fatalf("unknown BENCH_ROW %q", row)
	}
	done := make(chan []byte)
	if self {
		var buf bytes.Buffer
		if err := pprof.StartCPUProfile(&buf); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(8 * time.Second)
			pprof.StopCPUProfile()
			done <- buf.Bytes()
		}()
	} else {
		go func() {
			b, err := get(context.Background(), n.URL+"/debug/pprof/profile?seconds=8")
			if err != nil {
				t.Errorf("profile: %v", err)
			}
			done <- b
		}()
	}
	deadline := time.Now().Add(8500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if starts != nil {
			d, err := starts(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("start median %v", d)
			continue
		}
		s0, _ := selfCPU()
		sp, err := run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		s1, _ := selfCPU()
		gib := float64(size) / (1 << 30)
		t.Logf("%.1f MB/s, server %.2f CPU-s/GiB, this process %.2f CPU-s/GiB", sp.MBps, sp.CPU.Seconds()/gib, (s1-s0).Seconds()/gib)
	}
	if err := os.WriteFile(out, <-done, 0o644); err != nil {
		t.Fatal(err)
	}
}
