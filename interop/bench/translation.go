package bench

import (
	"context"
	"fmt"
	"time"
)

// translationRows compares the two translators of client-go's WebSocket
// v5 exec into SPDY in front of the same cri-streaming server, each one TCP
// hop from it: porthole's gateway (first column) and the API server's
// translator in the reference's front (second column). Skipped without
// Config.Translator or a reference.
func translationRows(ctx context.Context, c *Config, t *Table, nodes []*Node,
	pairRows func(string, int64, *Goal, bool, [2]func() (Speed, error)),
	progress func(row, node string, v Value)) {
	if c.Translator == nil || len(nodes) < 2 || nodes[1] == nil {
		return
	}
	ref := nodes[1]
	gw, err := c.Translator(ctx, ref)
	if err == nil {
		defer gw.Close()
	}
	throughput := func(n *Node) func() (Speed, error) {
		return func() (Speed, error) {
			if err != nil {
				return Speed{}, err
			}
			return Throughput(ctx, n, WebSocket, c.ThroughputBytes)
		}
	}
	// The server CPU row is the gateway's process against the whole
	// reference (translator and CRI server): for the record, no goal.
	pairRows(fmt.Sprintf("translation WS v5 -> SPDY, porthole gateway | API server translator (%d MiB, median of %d)", c.ThroughputBytes>>20, c.ThroughputRuns),
		c.ThroughputBytes, ratioAtLeast(3), false, [2]func() (Speed, error){throughput(gw), throughput(ref)})
	t.Rows[len(t.Rows)-1].Goal = nil
	lat := &Row{Name: fmt.Sprintf("translation start latency `true`, porthole gateway | API server translator (median of %d)", c.LatencyRuns),
		Unit: "ms", Values: map[string]Value{}, Goal: ratioAtMost(1)}
	var times [2]time.Duration
	var lerr [2]error
	lerr[0] = err
	for i, n := range []*Node{gw, ref} {
		if lerr[i] == nil {
			times[i], lerr[i] = StartLatency(ctx, n, WebSocket, c.LatencyRuns)
		}
	}
	for i, node := range t.Nodes[:2] {
		v := Value{Err: lerr[i]}
		if v.Err == nil {
			v.V = float64(times[i].Microseconds()) / 1000
		}
		lat.Values[node] = v
		progress(lat.Name, node, v)
	}
	t.Rows = append(t.Rows, lat)
}
