package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"
)

// Config sizes the comparison. Zero fields take the defaults noted.
type Config struct {
	ThroughputBytes int64 // default 1 GiB
	ThroughputRuns  int   // median of (min and max shown); default 3
	LatencyRuns     int   // median of; default 50
	IdleSessions    int   // default 200
	// HeldSessions and HeldSPDYSessions size the scale rows: idle sessions
	// held by one server at once (defaults 10,000 on WebSocket, 1,000 on
	// SPDY); negative skips them.
	HeldSessions, HeldSPDYSessions int
	// Progress, when set, receives one line per measurement.
	Progress io.Writer
	// Translator, when set, starts porthole's gateway translating in front
	// of the reference (StartGateway) for the translation rows.
	Translator func(ctx context.Context, up *Node) (*Node, error)
	// Porthole and Kubectl are the binaries of the cp rows, Dir a scratch
	// directory for their files; CopyBytes sizes them (default 1 GiB).
	// The rows are skipped without both binaries.
	Porthole, Kubectl, Dir string
	CopyBytes              int64
}

func (c *Config) withDefaults() Config {
	d := Config{ThroughputBytes: 1 << 30, ThroughputRuns: 3, LatencyRuns: 50, IdleSessions: 200,
		HeldSessions: 10000, HeldSPDYSessions: 1000}
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
	if out.HeldSessions == 0 {
		out.HeldSessions = d.HeldSessions
	}
	if out.HeldSPDYSessions == 0 {
		out.HeldSPDYSessions = d.HeldSPDYSessions
	}
	if out.CopyBytes == 0 {
		out.CopyBytes = 1 << 30
	}
	return out
}

// Row is one line of the table: a measurement per node.
type Row struct {
	Name         string
	Unit         string
	HigherBetter bool
	Values       map[string]Value // by node name
	// Goal is what the subject should show on this row (issue 17); nil:
	// none set.
	Goal *Goal
}

// Value is one measurement, or why it is missing. Repeated measurements
// keep their median in V and their spread in Min and Max (Runs > 1).
type Value struct {
	V        float64
	Min, Max float64
	Runs     int
	Err      error
	// Note qualifies a value (why a count stopped short, say); it is
	// listed under the table like an error.
	Note string
}

// spread is the median of vs with its min and max.
func spread(vs []float64) Value {
	if len(vs) == 0 {
		return Value{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return Value{V: s[len(s)/2], Min: s[0], Max: s[len(s)-1], Runs: len(s)}
}

// Goal bounds a row: the ratio subject/reference, or the subject's own
// value, at least or at most Bound.
type Goal struct {
	Ratio   bool
	AtLeast bool
	Bound   float64
}

func ratioAtLeast(b float64) *Goal { return &Goal{Ratio: true, AtLeast: true, Bound: b} }
func ratioAtMost(b float64) *Goal  { return &Goal{Ratio: true, Bound: b} }
func atMost(b float64) *Goal       { return &Goal{Bound: b} }

func (g *Goal) String() string {
	op := "<="
	if g.AtLeast {
		op = ">="
	}
	if g.Ratio {
		return fmt.Sprintf("ratio %s %g", op, g.Bound)
	}
	return fmt.Sprintf("%s %g", op, g.Bound)
}

// Met reports whether subject (and the ratio, when known) meets the goal;
// ok is false when the figures to judge are missing.
func (g *Goal) Met(subject Value, ratio float64, haveRatio bool) (met, ok bool) {
	v := subject.V
	if g.Ratio {
		if !haveRatio {
			return false, false
		}
		v = ratio
	} else if subject.Err != nil {
		return false, false
	}
	if g.AtLeast {
		return v >= g.Bound, true
	}
	return v <= g.Bound, true
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
	began := time.Now()
	progress := func(row string, node string, v Value) {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "%6.1fs %-55s %-12s %s\n", time.Since(began).Seconds(), row, node, v)
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
	measure := func(name, unit string, higher bool, goal *Goal, f func(n *Node) (float64, error)) {
		row := &Row{Name: name, Unit: unit, HigherBetter: higher, Values: map[string]Value{}, Goal: goal}
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
	speedRows := func(what string, goal *Goal, run func(n *Node) (Speed, error)) *Row {
		tput := &Row{Name: what + " throughput", Unit: "MB/s", HigherBetter: true, Values: map[string]Value{}, Goal: goal}
		cpu := &Row{Name: what + " server CPU", Unit: "CPU-s/GiB", Values: map[string]Value{}}
		for i, n := range nodes {
			var speeds, cpus []float64
			err := errs[i]
			for r := 0; n != nil && r < c.ThroughputRuns && err == nil; r++ {
				var sp Speed
				if sp, err = run(n); err == nil {
					speeds = append(speeds, sp.MBps)
					cpus = append(cpus, sp.CPU.Seconds()/(float64(c.ThroughputBytes)/(1<<30)))
				}
			}
			tv, cv := spread(speeds), spread(cpus)
			tv.Err, cv.Err = err, err
			tput.Values[targets[i].Name], cpu.Values[targets[i].Name] = tv, cv
			progress(tput.Name, targets[i].Name, tv)
		}
		t.Rows = append(t.Rows, tput, cpu)
		return tput
	}
	for _, w := range Wires() {
		var goal *Goal
		if w != WebSocketV4 {
			goal = ratioAtLeast(2.5)
		}
		speedRows(fmt.Sprintf("exec stdout, %s (%d MiB, median of %d)", w, c.ThroughputBytes>>20, c.ThroughputRuns), goal,
			func(n *Node) (Speed, error) { return Throughput(ctx, n, w, c.ThroughputBytes) })
	}
	// pairRows measures two ways of doing one thing, the subject's in the
	// first column and the reference's in the second, runs interleaved:
	// throughput, and the CPU per GiB of the clients (client) or of the
	// servers.
	pairRows := func(what string, size int64, goal *Goal, client bool, ways [2]func() (Speed, error)) {
		tput := &Row{Name: what + " throughput", Unit: "MB/s", HigherBetter: true, Values: map[string]Value{}, Goal: goal}
		cpu := &Row{Name: what + " server CPU", Unit: "CPU-s/GiB", Values: map[string]Value{}, Goal: ratioAtMost(1)}
		if client {
			cpu.Name = what + " client CPU"
		}
		var speeds, cpus [2][]float64
		var errs [2]error
		for r := 0; r < c.ThroughputRuns; r++ {
			for i, f := range ways {
				if errs[i] != nil {
					continue
				}
				sp, err := f()
				if errs[i] = err; err != nil {
					continue
				}
				used := sp.CPU
				if client {
					used = sp.ClientCPU
				}
				speeds[i] = append(speeds[i], sp.MBps)
				cpus[i] = append(cpus[i], used.Seconds()/(float64(size)/(1<<30)))
			}
		}
		for i, node := range t.Nodes[:2] {
			tv, cv := spread(speeds[i]), spread(cpus[i])
			tv.Err, cv.Err = errs[i], errs[i]
			tput.Values[node], cpu.Values[node] = tv, cv
			progress(tput.Name, node, tv)
			progress(cpu.Name, node, cv)
		}
		t.Rows = append(t.Rows, tput, cpu)
	}
	if len(nodes) == 2 && nodes[0] != nil {
		for _, w := range []Wire{WebSocket, SPDY} {
			n := nodes[0]
			pairRows(fmt.Sprintf("exec stdout, %s, porthole client | client-go, both to porthole (%d MiB, median of %d)", w, c.ThroughputBytes>>20, c.ThroughputRuns),
				c.ThroughputBytes, ratioAtLeast(1), true, [2]func() (Speed, error){
					func() (Speed, error) { return PortholeThroughput(ctx, n, w, c.ThroughputBytes) },
					func() (Speed, error) { return Throughput(ctx, n, w, c.ThroughputBytes) },
				})
		}
	}
	translationRows(ctx, &c, t, nodes, pairRows, progress)
	startRows(ctx, &c, t, nodes, errs, targets, progress)
	for _, w := range Wires() {
		base := &Row{Name: fmt.Sprintf("server RSS, fresh process after one %s exec", w), Unit: "MiB", Values: map[string]Value{}}
		rss := &Row{Name: fmt.Sprintf("idle exec session RSS, %s (N=%d)", w, c.IdleSessions), Unit: "KiB/session", Values: map[string]Value{}}
		switch w {
		case WebSocket:
			rss.Goal = atMost(32)
		case SPDY:
			rss.Goal = atMost(170)
		}
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
	var pfRows []*Row
	for _, w := range PFWires() {
		pfRows = append(pfRows, speedRows(fmt.Sprintf("port-forward, %s (%d MiB, median of %d)", w, c.ThroughputBytes>>20, c.ThroughputRuns), ratioAtLeast(2),
			func(n *Node) (Speed, error) { return PortForwardThroughput(ctx, n, w, c.ThroughputBytes) }))
	}
	for _, w := range PFWires() {
		speedRows(fmt.Sprintf("port-forward, %s, porthole client (%d MiB, median of %d)", w, c.ThroughputBytes>>20, c.ThroughputRuns), nil,
			func(n *Node) (Speed, error) { return PortholePortForwardThroughput(ctx, n, w, c.ThroughputBytes) })
	}
	// The ceiling: the same transfer over loopback TCP with no forwarder
	// (no server involved; measured once per column, interleaved).
	loop := &Row{Name: fmt.Sprintf("loopback TCP, no forwarder (%d MiB, median of %d)", c.ThroughputBytes>>20, c.ThroughputRuns),
		Unit: "MB/s", HigherBetter: true, Values: map[string]Value{}}
	for _, tg := range targets {
		var vs []float64
		var err error
		for r := 0; r < c.ThroughputRuns && err == nil; r++ {
			var v float64
			if v, err = LoopbackThroughput(c.ThroughputBytes); err == nil {
				vs = append(vs, v)
			}
		}
		v := spread(vs)
		v.Err = err
		loop.Values[tg.Name] = v
		progress(loop.Name, tg.Name, v)
	}
	t.Rows = append(t.Rows, loop)
	// Each forwarder's share of the ceiling measured in its own column.
	for i, w := range PFWires() {
		share := &Row{Name: fmt.Sprintf("port-forward, %s, share of loopback TCP", w), Unit: "fraction", HigherBetter: true,
			Values: map[string]Value{}, Goal: &Goal{AtLeast: true, Bound: 0.5}}
		for _, tg := range targets {
			pf, lo := pfRows[i].Values[tg.Name], loop.Values[tg.Name]
			v := Value{Err: pf.Err}
			if v.Err == nil {
				v.Err = lo.Err
			}
			if v.Err == nil && lo.V > 0 {
				v.V = pf.V / lo.V
			}
			share.Values[tg.Name] = v
		}
		t.Rows = append(t.Rows, share)
	}
	if c.Porthole != "" && c.Kubectl != "" && len(nodes) == 2 && nodes[0] != nil && nodes[0].Kubeconfig != "" {
		n := nodes[0]
		ways := [2]Copier{PortholeCopier(c.Porthole, n.Kubeconfig), KubectlCopier(c.Kubectl, n.Kubeconfig, c.Dir)}
		for _, upload := range []bool{true, false} {
			dir := "to the pod"
			if !upload {
				dir = "from the pod"
			}
			pairRows(fmt.Sprintf("cp %d MiB %s, porthole cp | kubectl cp, both to porthole (median of %d)", c.CopyBytes>>20, dir, c.ThroughputRuns),
				c.CopyBytes, ratioAtLeast(1), true, [2]func() (Speed, error){
					func() (Speed, error) { return CopyThroughput(ctx, n, ways[0], c.Dir, c.CopyBytes, upload) },
					func() (Speed, error) { return CopyThroughput(ctx, n, ways[1], c.Dir, c.CopyBytes, upload) },
				})
		}
	}
	for _, w := range PFWires() {
		measure(fmt.Sprintf("port-forward new connection echo, %s (median of %d)", w, c.LatencyRuns), "ms", false, nil,
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
	for _, held := range []struct {
		w     Wire
		count int
	}{{WebSocket, c.HeldSessions}, {SPDY, c.HeldSPDYSessions}} {
		if held.count <= 0 {
			continue
		}
		w, count := held.w, held.count
		// The open-file limit may hold fewer sessions than wanted: the
		// first row says how many each server held, and the per-session
		// rows and the projection carry the goal to the count wanted.
		opened := &Row{Name: fmt.Sprintf("idle sessions held at once, %s (wanted %d)", w, count), Unit: "sessions",
			HigherBetter: true, Values: map[string]Value{}}
		fds := &Row{Name: fmt.Sprintf("server descriptors per held session, %s", w), Unit: "per session", Values: map[string]Value{}}
		total := &Row{Name: fmt.Sprintf("server RSS holding them, %s", w), Unit: "MiB", Values: map[string]Value{}}
		per := &Row{Name: fmt.Sprintf("held session RSS, %s", w), Unit: "KiB/session", Values: map[string]Value{}}
		proj := &Row{Name: fmt.Sprintf("server RSS projected to %d sessions (held RSS + per-session x the rest), %s", count, w),
			Unit: "MiB", Values: map[string]Value{}}
		gor := &Row{Name: fmt.Sprintf("goroutines per held session, %s", w), Unit: "per session", Values: map[string]Value{}}
		start := &Row{Name: fmt.Sprintf("start latency holding them / idle, %s", w), Unit: "x", Values: map[string]Value{}, Goal: atMost(2)}
		left := &Row{Name: fmt.Sprintf("goroutines left after they ended, %s", w), Unit: "goroutines", Values: map[string]Value{}, Goal: atMost(0)}
		// No goal: the runtime keeps every goroutine descriptor it made
		// (a few hundred bytes each), so a server that ran N goroutines per
		// session keeps that much per session without leaking. Later
		// rounds of held sessions on the same server add far less (ten
		// rounds of 200 measured: SPDY about 0.17 KiB a session a round,
		// WebSocket within the noise).
		heapLeft := &Row{Name: fmt.Sprintf("live Go heap left after they ended, %s", w), Unit: "KiB/session", Values: map[string]Value{}}
		if w == WebSocket {
			opened.Goal = &Goal{AtLeast: true, Bound: float64(count)}
			proj.Goal = atMost(1024)
		}
		for _, tg := range targets {
			hc, err := heldCell(ctx, tg, w, count)
			opened.Values[tg.Name] = Value{V: float64(hc.Sessions), Err: err, Note: hc.Stopped}
			fds.Values[tg.Name] = Value{V: hc.FDsPerSession, Err: err}
			if err == nil && hc.FDLimit == 0 {
				fds.Values[tg.Name] = Value{Err: errors.New("descriptors not counted (no /proc)")}
			}
			total.Values[tg.Name] = Value{V: float64(hc.RSS) / (1 << 20), Err: err}
			per.Values[tg.Name] = Value{V: hc.RSSPerSession / 1024, Err: err}
			proj.Values[tg.Name] = Value{V: (float64(hc.RSS) + hc.RSSPerSession*float64(count-hc.Sessions)) / (1 << 20), Err: err}
			gor.Values[tg.Name] = Value{V: hc.GoroutinesPerSession, Err: err}
			sv := Value{Err: err}
			if err == nil && hc.StartIdle > 0 {
				sv.V = float64(hc.StartHeld) / float64(hc.StartIdle)
			}
			start.Values[tg.Name] = sv
			left.Values[tg.Name] = Value{V: float64(hc.GoroutinesLeft), Err: err}
			heapLeft.Values[tg.Name] = Value{V: hc.HeapLeftPerSession / 1024, Err: errors.Join(err, hc.HeapLeftErr)}
			for _, r := range []*Row{opened, fds, total, per, proj, gor, start, left, heapLeft} {
				progress(r.Name, tg.Name, r.Values[tg.Name])
			}
		}
		t.Rows = append(t.Rows, opened, fds, total, per, proj, gor, start, left, heapLeft)
	}
	return t
}

// heldCell holds count idle sessions on a fresh server process.
// startRows adds the session start rows: per wire, the median start of
// `true` on each node, and that start less the median local spawn of
// `true` measured right after it (os/exec, same runs), whose goal is 0.5
// ms; then the local spawns themselves per column (the median of the
// wires' medians, with their min and max), so their drift shows.
func startRows(ctx context.Context, c *Config, t *Table, nodes []*Node, errs []error, targets []Target, progress func(string, string, Value)) {
	local := &Row{Name: fmt.Sprintf("spawn `true` locally, os/exec, beside each column's start rows (median of %d)", c.LatencyRuns),
		Unit: "ms", Values: map[string]Value{}}
	spawns := make([][]float64, len(nodes))
	spawnErrs := slices.Clone(errs)
	for _, w := range Wires() {
		var goal *Goal
		if w.direct() { // against the library's own server on that wire
			goal = ratioAtMost(0.6)
		}
		start := &Row{Name: fmt.Sprintf("session start latency `true`, %s (median of %d)", w, c.LatencyRuns), Unit: "ms",
			Values: map[string]Value{}, Goal: goal}
		over := &Row{Name: fmt.Sprintf("session start `true` over spawning it locally, %s", w), Unit: "ms",
			Values: map[string]Value{}, Goal: atMost(0.5)}
		for i, n := range nodes {
			name := targets[i].Name
			sv, ov := Value{Err: errs[i]}, Value{Err: errs[i]}
			if n != nil {
				var d, l time.Duration
				d, sv.Err = StartLatency(ctx, n, w, c.LatencyRuns)
				sv.V = ms(d)
				if sv.Err == nil {
					l, ov.Err = LocalSpawnLatency(ctx, c.LatencyRuns)
					ov.V = ms(d - l)
					if ov.Err == nil {
						spawns[i] = append(spawns[i], ms(l))
					} else {
						spawnErrs[i] = ov.Err
					}
				} else {
					ov.Err = sv.Err
				}
			}
			start.Values[name], over.Values[name] = sv, ov
			progress(start.Name, name, sv)
			progress(over.Name, name, ov)
		}
		t.Rows = append(t.Rows, start, over)
	}
	for i := range nodes {
		v := spread(spawns[i])
		v.Err = spawnErrs[i]
		if v.Err == nil && v.Runs == 0 {
			v.Err = errors.New("no session start was measured")
		}
		local.Values[targets[i].Name] = v
		progress(local.Name, targets[i].Name, v)
	}
	t.Rows = append(t.Rows, local)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func heldCell(ctx context.Context, tg Target, w Wire, count int) (HeldCost, error) {
	n, err := tg.Start(ctx)
	if err != nil {
		return HeldCost{}, err
	}
	defer n.Close()
	return HoldSessions(ctx, n, w, count)
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
	if v.Runs > 1 {
		return fmt.Sprintf("%s (%s-%s)", num(v.V), num(v.Min), num(v.Max))
	}
	return num(v.V)
}

func num(f float64) string {
	if math.Abs(f) < 10 {
		return fmt.Sprintf("%.2f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

// ratio is subject / reference of r, when both are known.
func (t *Table) ratio(r *Row) (float64, bool) {
	a, b := r.Values[t.Nodes[0]], r.Values[t.Nodes[1]]
	if a.Err != nil || b.Err != nil || b.V == 0 {
		return 0, false
	}
	return a.V / b.V, true
}

// goalCell says whether the row's goal is met: "ratio >= 2.5: met";
// "none" for a row issue 17 sets no goal for.
func (t *Table) goalCell(r *Row) string {
	if r.Goal == nil {
		return "none"
	}
	ratio, have := t.ratio(r)
	met, ok := r.Goal.Met(r.Values[t.Nodes[0]], ratio, have)
	switch {
	case !ok:
		return r.Goal.String() + ": n/a"
	case met:
		return r.Goal.String() + ": met"
	}
	return r.Goal.String() + ": missed"
}

// jsonValue is a Value as WriteJSON writes it.
type jsonValue struct {
	V     *float64 `json:"value,omitempty"`
	Min   *float64 `json:"min,omitempty"`
	Max   *float64 `json:"max,omitempty"`
	Runs  int      `json:"runs,omitempty"`
	Error string   `json:"error,omitempty"`
	Note  string   `json:"note,omitempty"`
}

// WriteJSON writes the table for machines: every row with its unit, each
// node's value (median, min, max, runs, or the error), the ratio and the
// goal with its verdict.
func (t *Table) WriteJSON(w io.Writer) error {
	type row struct {
		Name         string               `json:"name"`
		Unit         string               `json:"unit"`
		HigherBetter bool                 `json:"higherBetter"`
		Values       map[string]jsonValue `json:"values"`
		Ratio        *float64             `json:"ratio,omitempty"`
		Goal         string               `json:"goal,omitempty"`
		GoalMet      *bool                `json:"goalMet,omitempty"`
	}
	out := struct {
		Subject   string `json:"subject"`
		Reference string `json:"reference"`
		Rows      []row  `json:"rows"`
	}{Subject: t.Nodes[0], Reference: t.Nodes[1]}
	for _, r := range t.Rows {
		jr := row{Name: r.Name, Unit: r.Unit, HigherBetter: r.HigherBetter, Values: map[string]jsonValue{}}
		for node, v := range r.Values {
			jv := jsonValue{Runs: v.Runs, Note: v.Note}
			if v.Err != nil {
				jv.Error = v.Err.Error()
			} else {
				jv.V = &v.V
				if v.Runs > 1 {
					jv.Min, jv.Max = &v.Min, &v.Max
				}
			}
			jr.Values[node] = jv
		}
		ratio, have := t.ratio(r)
		if have {
			jr.Ratio = &ratio
		}
		if r.Goal != nil {
			jr.Goal = r.Goal.String()
			if met, ok := r.Goal.Met(r.Values[t.Nodes[0]], ratio, have); ok {
				jr.GoalMet = &met
			}
		}
		out.Rows = append(out.Rows, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Write prints the table: row | subject | reference | ratio, where ratio
// is subject / reference and the last column says which way is better.
// Missing cells are numbered and their errors listed under the table.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintf(tw, "row\tunit\t%s\t%s\tratio\tbetter\tgoal\n", t.Nodes[0], t.Nodes[1])
	var notes []string
	noteIndex := map[string]int{}
	note := func(msg string) int {
		i, ok := noteIndex[msg]
		if !ok {
			notes = append(notes, msg)
			i = len(notes)
			noteIndex[msg] = i
		}
		return i
	}
	cell := func(v Value, node string) string {
		if v.Err == nil {
			if v.Note != "" {
				return fmt.Sprintf("%s [%d]", v.String(), note(node+": "+v.Note))
			}
			return v.String()
		}
		return fmt.Sprintf("n/a [%d]", note(node+": "+v.Err.Error()))
	}
	for _, r := range t.Rows {
		a, b := r.Values[t.Nodes[0]], r.Values[t.Nodes[1]]
		ratio := "-"
		if v, ok := t.ratio(r); ok {
			ratio = fmt.Sprintf("%.2f", v)
		}
		better := "lower"
		if r.HigherBetter {
			better = "higher"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Unit, cell(a, t.Nodes[0]), cell(b, t.Nodes[1]), ratio, better, t.goalCell(r))
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
