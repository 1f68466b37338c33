package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The benchmarks run both servers in each iteration and report each one's
// figure and the ratio porthole / kubelet-lib as custom metrics, so one
// `go test -run XXX -bench . ./bench` line per row carries the comparison.
// For the full table use `go run ./cmd/bench`.

func metricName(target, unit string) string {
	return target + "-" + strings.ReplaceAll(unit, " ", "")
}

func BenchmarkExecThroughput(b *testing.B) {
	const size = 64 << 20
	tgs := targets(b)
	for _, w := range Wires() {
		b.Run(w.String(), func(b *testing.B) {
			nodes := []*Node{startNode(b, tgs[0]), startNode(b, tgs[1])}
			elapsed := make([]time.Duration, len(nodes))
			for b.Loop() {
				for i, n := range nodes {
					start := time.Now()
					if _, err := Throughput(b.Context(), n, w, size); err != nil {
						b.Fatalf("%s: %v", tgs[i].Name, err)
					}
					elapsed[i] += time.Since(start)
				}
			}
			report(b, tgs, "MB/s", func(i int) float64 {
				return float64(size) * float64(b.N) / elapsed[i].Seconds() / 1e6
			})
		})
	}
}

func BenchmarkExecStart(b *testing.B) {
	tgs := targets(b)
	for _, w := range Wires() {
		b.Run(w.String(), func(b *testing.B) {
			nodes := []*Node{startNode(b, tgs[0]), startNode(b, tgs[1])}
			elapsed := make([]time.Duration, len(nodes))
			for b.Loop() {
				for i, n := range nodes {
					d, err := StartLatency(b.Context(), n, w, 1)
					if err != nil {
						b.Fatalf("%s: %v", tgs[i].Name, err)
					}
					elapsed[i] += d
				}
			}
			report(b, tgs, "ms/exec", func(i int) float64 {
				return elapsed[i].Seconds() * 1000 / float64(b.N)
			})
		})
	}
}

func BenchmarkIdleSession(b *testing.B) {
	const count = 200
	tgs := targets(b)
	for _, w := range Wires() {
		b.Run(w.String(), func(b *testing.B) {
			sum := make([]float64, len(tgs))
			for b.Loop() {
				for i, tg := range tgs {
					_, rss, _ := idleCell(context.Background(), tg, w, count)
					if rss.Err != nil {
						b.Fatalf("%s: %v", tg.Name, rss.Err)
					}
					sum[i] += rss.V
				}
			}
			report(b, tgs, "KiB-RSS/session", func(i int) float64 { return sum[i] / float64(b.N) })
		})
	}
}

// report publishes each target's figure and the ratio of the first to the
// second.
func report(b *testing.B, tgs []Target, unit string, value func(i int) float64) {
	b.ReportMetric(0, "ns/op")
	for i, tg := range tgs {
		b.ReportMetric(value(i), metricName(tg.Name, unit))
	}
	if ref := value(1); ref != 0 {
		b.ReportMetric(value(0)/ref, "ratio")
	}
}
