package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestProfileTranslation takes an 8 s CPU profile of porthole's gateway
// (served with --profiling) while client-go's WebSocket exec streams
// through it, into the file $BENCH_PROFILE names; without it the test is
// skipped. It is how the translation path was profiled:
//
//	BENCH_PROFILE=/tmp/gw.prof go test -run TestProfileTranslation -v ./bench/
//	go tool pprof -top /tmp/gw.prof
func TestProfileTranslation(t *testing.T) {
	out := os.Getenv("BENCH_PROFILE")
	if out == "" {
		t.Skip("set BENCH_PROFILE to a file to profile the gateway")
	}
	nodes := translationNodes(t)
	gw := nodes[0]
	done := make(chan []byte)
	go func() {
		b, err := get(context.Background(), gw.URL+"/debug/pprof/profile?seconds=8")
		if err != nil {
			t.Errorf("profile: %v", err)
		}
		done <- b
	}()
	deadline := time.Now().Add(8500 * time.Millisecond)
	for time.Now().Before(deadline) {
		sp, err := Throughput(t.Context(), gw, WebSocket, 128<<20)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%.1f MB/s cpu %v", sp.MBps, sp.CPU)
	}
	if err := os.WriteFile(out, <-done, 0o644); err != nil {
		t.Fatal(err)
	}
}
