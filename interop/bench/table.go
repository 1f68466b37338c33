package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"
)

// Config sizes the comparison. Zero fields take the defaults noted.
type Config struct {
	ThroughputBytes int64 // default 1 GiB
	ThroughputRuns  int   // best of; default 3
	LatencyRuns     int   // median of; default 50
	IdleSessions    int   // default 200
	// Progress, when set, receives one line per measurement.
	Progress io.Writer
}

func (c *Config) withDefaults() Config {
	d := Config{ThroughputBytes: 1 << 30, ThroughputRuns: 3, LatencyRuns: 50, IdleSessions: 200}
	if c == nil {
		return d
	}
	out := *c
	if out.ThroughputBytes == 0 {
		out.ThroughputBytes = d.ThroughputBytes
	}
	if out.ThroughputRuns == 0 {
		out.ThroughputRuns = d.ThroughputRuns
	}
	if out.LatencyRuns == 0 {
		out.LatencyRuns = d.LatencyRuns
	}
	if out.IdleSessions == 0 {
		out.IdleSessions = d.IdleSessions
	}
	return out
}

// Row is one line of the table: a measurement per node.
type Row struct {
	Name         string
	Unit         string
	HigherBetter bool
	Values       map[string]Value // by node name
}

// Value is one measurement, or why it is missing.
type Value struct {
	V   float64
	Err error
}

// Table is the comparison's result. Nodes[0] is the subject (porthole) and
// Nodes[1] the reference; the ratio is subject / reference.
type Table struct {
	Nodes []string
	Rows  []*Row
}

// Target is a node kind the comparison can start as often as it needs.
type Target struct {
	Name  string
	Start func(ctx context.Context) (*Node, error)
}

// Run measures every row on every target, targets interleaved within each
// row so that drift on a shared machine hits both. Throughput and latency
// rows share one server process per target; every memory cell gets a fresh
// process, so that no earlier row's freed memory hides its growth.
// Targets[0] is the subject, Targets[1] the reference. A target that fails
// to start gets its error in its cells.
func Run(ctx context.Context, cfg *Config, targets []Target) *Table {
	c := cfg.withDefaults()
	t := &Table{}
	for _, tg := range targets {
		t.Nodes = append(t.Nodes, tg.Name)
	}
	progress := func(row string, node string, v Value) {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "%-55s %-12s %s\n", row, node, v)
		}
	}
	// Long-lived servers for the speed rows.
	nodes := make([]*Node, len(targets))
	errs := make([]error, len(targets))
	for i, tg := range targets {
		nodes[i], errs[i] = tg.Start(ctx)
		if errs[i] == nil {
			defer nodes[i].Close()
		}
	}
	measure := func(name, unit string, higher bool, f func(n *Node) (float64, error)) {
		row := &Row{Name: name, Unit: unit, HigherBetter: higher, Values: map[string]Value{}}
		for i, n := range nodes {
			v := Value{Err: errs[i]}
			if n != nil {
				v.V, v.Err = f(n)
			}
			row.Values[targets[i].Name] = v
			progress(name, targets[i].Name, v)
		}
		t.Rows = append(t.Rows, row)
	}
	// speedRows adds a throughput row (best run) and a server CPU row (all
	// runs' CPU time over all bytes) for one transfer kind.
	speedRows := func(what string, run func(n *Node) (Speed, error)) {
		tput := &Row{Name: what + " throughput", Unit: "MB/s", HigherBetter: true, Values: map[string]Value{}}
		cpu := &Row{Name: what + " server CPU", Unit: "CPU-s/GiB", Values: map[string]Value{}}
		for i, n := range nodes {
			best, spent, err := 0.0, time.Duration(0), errs[i]
			for r := 0; n != nil && r < c.ThroughputRuns && err == nil; r++ {
				var sp Speed
				sp, err = run(n)
				best, spent = math.Max(best, sp.MBps), spent+sp.CPU
			}
			gib := float64(c.ThroughputBytes) * float64(c.ThroughputRuns) / (1 << 30)
			tput.Values[targets[i].Name] = Value{V: best, Err: err}
			cpu.Values[targets[i].Name] = Value{V: spent.Seconds() / gib, Err: err}
			progress(tput.Name, targets[i].Name, tput.Values[targets[i].Name])
		}
		t.Rows = append(t.Rows, tput, cpu)
	}
	for _, w := range Wires() {
		speedRows(fmt.Sprintf("exec stdout, %s (%d MiB, best of %d)", w, c.ThroughputBytes>>20, c.ThroughputRuns),
			func(n *Node) (Speed, error) { return Throughput(ctx, n, w, c.ThroughputBytes) })
	}
	for _, w := range Wires() {
		measure(fmt.Sprintf("session start latency `true`, %s (median of %d)", w, c.LatencyRuns), "ms", false,
			func(n *Node) (float64, error) {
				d, err := StartLatency(ctx, n, w, c.LatencyRuns)
				return float64(d.Microseconds()) / 1000, err
			})
	}
	for _, w := range Wires() {
		base := &Row{Name: fmt.Sprintf("server RSS, fresh process after one %s exec", w), Unit: "MiB", Values: map[string]Value{}}
		rss := &Row{Name: fmt.Sprintf("idle exec session RSS, %s (N=%d)", w, c.IdleSessions), Unit: "KiB/session", Values: map[string]Value{}}
		heap := &Row{Name: fmt.Sprintf("idle exec session Go heap, %s (N=%d)", w, c.IdleSessions), Unit: "KiB/session", Values: map[string]Value{}}
		for _, tg := range targets {
			b, r, h := idleCell(ctx, tg, w, c.IdleSessions)
			base.Values[tg.Name], rss.Values[tg.Name], heap.Values[tg.Name] = b, r, h
			progress(base.Name, tg.Name, b)
			progress(rss.Name, tg.Name, r)
			progress(heap.Name, tg.Name, h)
		}
		if w == WebSocket {
			t.Rows = append(t.Rows, base)
		}
		t.Rows = append(t.Rows, rss, heap)
	}
	for _, w := range PFWires() {
		speedRows(fmt.Sprintf("port-forward, %s (%d MiB, best of %d)", w, c.ThroughputBytes>>20, c.ThroughputRuns),
			func(n *Node) (Speed, error) { return PortForwardThroughput(ctx, n, w, c.ThroughputBytes) })
	}
	for _, w := range PFWires() {
		speedRows(fmt.Sprintf("port-forward, %s, porthole client (%d MiB, best of %d)", w, c.ThroughputBytes>>20, c.ThroughputRuns),
			func(n *Node) (Speed, error) { return PortholePortForwardThroughput(ctx, n, w, c.ThroughputBytes) })
	}
	// The ceiling: the same transfer over loopback TCP with no forwarder
	// (no server involved; measured once per column, interleaved).
	measure(fmt.Sprintf("loopback TCP, no forwarder (%d MiB, best of %d)", c.ThroughputBytes>>20, c.ThroughputRuns), "MB/s", true,
		func(*Node) (float64, error) {
			best := 0.0
			for range c.ThroughputRuns {
				v, err := LoopbackThroughput(c.ThroughputBytes)
				if err != nil {
					return 0, err
				}
				best = math.Max(best, v)
			}
			return best, nil
		})
	for _, w := range PFWires() {
		measure(fmt.Sprintf("port-forward new connection echo, %s (median of %d)", w, c.LatencyRuns), "ms", false,
			func(n *Node) (float64, error) {
				d, err := PortForwardConnLatency(ctx, n, w, c.LatencyRuns)
				return float64(d.Microseconds()) / 1000, err
			})
	}
	for _, w := range PFWires() {
		row := &Row{Name: fmt.Sprintf("idle forwarded connection RSS, %s (N=%d)", w, c.IdleSessions), Unit: "KiB/conn", Values: map[string]Value{}}
		for _, tg := range targets {
			v := pfIdleCell(ctx, tg, w, c.IdleSessions)
			row.Values[tg.Name] = v
			progress(row.Name, tg.Name, v)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// pfIdleCell measures idle forwarded connections on a fresh server process.
func pfIdleCell(ctx context.Context, tg Target, w PFWire, count int) Value {
	n, err := tg.Start(ctx)
	if err != nil {
		return Value{Err: err}
	}
	defer n.Close()
	v, err := PortForwardIdleConns(ctx, n, w, count)
	return Value{V: v / 1024, Err: err}
}

// idleCell measures idle sessions on a fresh server process: its baseline
// RSS (MiB), then RSS and heap growth per session (KiB).
func idleCell(ctx context.Context, tg Target, w Wire, count int) (base, rss, heap Value) {
	n, err := tg.Start(ctx)
	if err != nil {
		return Value{Err: err}, Value{Err: err}, Value{Err: err}
	}
	defer n.Close()
	cost, err := IdleSessions(ctx, n, w, count)
	if err != nil {
		return Value{Err: err}, Value{Err: err}, Value{Err: err}
	}
	return Value{V: float64(cost.BaselineRSS) / (1 << 20)},
		Value{V: cost.RSSPerSession / 1024},
		Value{V: cost.HeapPerSession / 1024, Err: cost.HeapErr}
}

func (v Value) String() string {
	if v.Err != nil {
		return "n/a"
	}
	if math.Abs(v.V) < 10 {
		return fmt.Sprintf("%.2f", v.V)
	}
	return fmt.Sprintf("%.1f", v.V)
}

// Write prints the table: row | subject | reference | ratio, where ratio
// is subject / reference and the last column says which way is better.
// Missing cells are numbered and their errors listed under the table.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintf(tw, "row\tunit\t%s\t%s\tratio\tbetter\n", t.Nodes[0], t.Nodes[1])
	var notes []string
	noteIndex := map[string]int{}
	cell := func(v Value, node string) string {
		if v.Err == nil {
			return v.String()
		}
		msg := node + ": " + v.Err.Error()
		i, ok := noteIndex[msg]
		if !ok {
			notes = append(notes, msg)
			i = len(notes)
			noteIndex[msg] = i
		}
		return fmt.Sprintf("n/a [%d]", i)
	}
	for _, r := range t.Rows {
		a, b := r.Values[t.Nodes[0]], r.Values[t.Nodes[1]]
		ratio := "-"
		if a.Err == nil && b.Err == nil && b.V != 0 {
			ratio = fmt.Sprintf("%.2f", a.V/b.V)
		}
		better := "lower"
		if r.HigherBetter {
			better = "higher"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Unit, cell(a, t.Nodes[0]), cell(b, t.Nodes[1]), ratio, better)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, n := range notes {
		if _, err := fmt.Fprintf(w, "[%d] %s\n", i+1, n); err != nil {
			return err
		}
	}
	return nil
}
