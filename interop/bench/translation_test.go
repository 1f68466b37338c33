package bench

import (
	"context"
	"io"
	"testing"
	"time"
)

// translationNodes are porthole's gateway and the API server's translator
// (the reference's front), both translating WebSocket v5 to SPDY toward the
// same cri-streaming server.
func translationNodes(t testing.TB) []*Node {
	tgs := targets(t)
	ref := startNode(t, tgs[1])
	gw, err := StartGateway(context.Background(), binary(t, "../..", "./cmd/porthole", "porthole"), ref, io.Discard)
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return []*Node{gw, ref}
}

var translationTargets = []Target{{Name: "porthole-gateway"}, {Name: "apiserver-translator"}}

// BenchmarkTranslationThroughput: exec stdout through each translator.
func BenchmarkTranslationThroughput(b *testing.B) {
	const size = 64 << 20
	nodes := translationNodes(b)
	elapsed := make([]time.Duration, len(nodes))
	for b.Loop() {
		for i, n := range nodes {
			start := time.Now()
			if _, err := Throughput(b.Context(), n, WebSocket, size); err != nil {
				b.Fatalf("%s: %v", n.Name, err)
			}
			elapsed[i] += time.Since(start)
		}
	}
	report(b, translationTargets, "MB/s", func(i int) float64 {
		return float64(size) * float64(b.N) / elapsed[i].Seconds() / 1e6
	})
}

// BenchmarkTranslationStart: time to run `true` through each translator.
func BenchmarkTranslationStart(b *testing.B) {
	nodes := translationNodes(b)
	elapsed := make([]time.Duration, len(nodes))
	for b.Loop() {
		for i, n := range nodes {
			d, err := StartLatency(b.Context(), n, WebSocket, 1)
			if err != nil {
				b.Fatalf("%s: %v", n.Name, err)
			}
			elapsed[i] += d
		}
	}
	report(b, translationTargets, "ms/exec", func(i int) float64 {
		return elapsed[i].Seconds() * 1000 / float64(b.N)
	})
}

// TestTranslationPath checks once that the translation rows measure what
// they say: a WebSocket exec through the gateway in front of the reference
// moves every byte.
func TestTranslationPath(t *testing.T) {
	nodes := translationNodes(t)
	for _, n := range nodes {
		if _, err := Throughput(t.Context(), n, WebSocket, 4<<20); err != nil {
			t.Errorf("%s: %v", n.Name, err)
		}
	}
}
