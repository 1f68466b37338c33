package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// These tests check the harness itself on both servers: that the
// measurements see what they claim to (exact byte counts, live sessions,
// clean ends). They assert no speeds.

func TestThroughputCountsBytes(t *testing.T) {
	for _, tg := range targets(t) {
		for _, w := range Wires() {
			t.Run(tg.Name+"/"+w.String(), func(t *testing.T) {
				n := startNode(t, tg)
				// Throughput fails unless exactly this many bytes arrive.
				if _, err := Throughput(t.Context(), n, w, 5<<20+7); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestStartLatencyRuns(t *testing.T) {
	for _, tg := range targets(t) {
		for _, w := range Wires() {
			t.Run(tg.Name+"/"+w.String(), func(t *testing.T) {
				n := startNode(t, tg)
				d, err := StartLatency(t.Context(), n, w, 3)
				if err != nil {
					t.Fatal(err)
				}
				if d <= 0 {
					t.Errorf("median latency %v, want > 0", d)
				}
			})
		}
	}
}

// TestIdleSessionsAreLive opens idle sessions and checks that the server
// really holds that many `cat` children while they are open, and that all
// sessions end cleanly when their stdin closes.
func TestIdleSessionsAreLive(t *testing.T) {
	const count = 7
	for _, tg := range targets(t) {
		for _, w := range Wires() {
			t.Run(tg.Name+"/"+w.String(), func(t *testing.T) {
				n := startNode(t, tg)
				before := catChildren(t, n.PID)
				var sessions []*idleSession
				for range count {
					s, err := openIdle(t.Context(), n, w)
					if err != nil {
						_ = closeIdle(sessions)
						t.Fatal(err)
					}
					sessions = append(sessions, s)
				}
				during := catChildren(t, n.PID)
				if err := closeIdle(sessions); err != nil {
					t.Fatalf("close sessions: %v", err)
				}
				if got := during - before; got != count {
					t.Errorf("server holds %d more cat processes with sessions open, want %d", got, count)
				}
			})
		}
	}
}

// catChildren counts the direct children of pid running cat.
func catChildren(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		for _, f := range strings.Fields(string(b)) {
			child, _ := strconv.Atoi(f)
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child))
			if err == nil && strings.TrimSpace(string(comm)) == "cat" {
				n++
			}
		}
	}
	return n
}

func TestRSSReadsSelf(t *testing.T) {
	rss, err := readRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Errorf("own VmRSS %d bytes, want at least 1 MiB", rss)
	}
}

func TestLoopbackThroughputCountsBytes(t *testing.T) {
	if v, err := LoopbackThroughput(3<<20 + 9); err != nil || v <= 0 {
		t.Fatalf("loopback: %v MB/s, %v", v, err)
	}
}

func TestPortForwardMeasures(t *testing.T) {
	for _, tg := range targets(t) {
		for _, w := range PFWires() {
			t.Run(tg.Name+"/"+w.String(), func(t *testing.T) {
				n := startNode(t, tg)
				// Fails unless exactly this many bytes arrive.
				if _, err := PortForwardThroughput(t.Context(), n, w, 3<<20+5); err != nil {
					t.Fatalf("throughput: %v", err)
				}
				if _, err := PortholePortForwardThroughput(t.Context(), n, w, 3<<20+7); err != nil {
					t.Fatalf("throughput with porthole's client: %v", err)
				}
				if _, err := PortForwardConnLatency(t.Context(), n, w, 3); err != nil {
					t.Fatalf("connection latency: %v", err)
				}
				if _, err := PortForwardIdleConns(t.Context(), n, w, 5); err != nil {
					t.Fatalf("idle connections: %v", err)
				}
			})
		}
	}
}

// TestHoldSessionsAllEnd holds sessions on porthole over both wires with
// half-close and checks the figures are those of live sessions and that
// every goroutine they took comes back once they end.
func TestHoldSessionsAllEnd(t *testing.T) {
	const count = 24
	tg := targets(t)[0]
	for _, w := range []Wire{WebSocket, SPDY} {
		t.Run(w.String(), func(t *testing.T) {
			n := startNode(t, tg)
			c, err := HoldSessions(t.Context(), n, w, count)
			if err != nil {
				t.Fatal(err)
			}
			if c.GoroutinesPerSession <= 0 || c.StartIdle <= 0 || c.StartHeld <= 0 || c.RSS == 0 {
				t.Errorf("figures of %d held sessions: %+v", count, c)
			}
			if c.GoroutinesLeft > 0 {
				t.Errorf("%d goroutines over the baseline 30 s after every session ended; stacks that grew:\n%s", c.GoroutinesLeft, c.LeftStacks)
			}
			if c.HeapLeftErr != nil {
				t.Errorf("live heap after they ended not read: %v", c.HeapLeftErr)
			}
		})
	}
}

func TestLocalSpawnLatency(t *testing.T) {
	d, err := LocalSpawnLatency(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("median local spawn %v, want > 0", d)
	}
}

// TestStartRows checks the start rows' shape on both servers: per wire a
// start row and its excess over the local spawn (which is smaller, by the
// local spawn measured beside it), then the local spawns, one per wire in
// each column.
func TestStartRows(t *testing.T) {
	tgs := targets(t)
	nodes := []*Node{startNode(t, tgs[0]), startNode(t, tgs[1])}
	tb := &Table{Nodes: []string{tgs[0].Name, tgs[1].Name}}
	c := Config{LatencyRuns: 3}
	startRows(t.Context(), &c, tb, nodes, make([]error, 2), tgs, func(string, string, Value) {})
	if want := 2*len(Wires()) + 1; len(tb.Rows) != want {
		t.Fatalf("%d rows, want %d", len(tb.Rows), want)
	}
	for i, w := range Wires() {
		start, over := tb.Rows[2*i], tb.Rows[2*i+1]
		if !strings.Contains(start.Name, w.String()) || !strings.Contains(over.Name, w.String()) {
			t.Errorf("rows %q, %q are not of wire %s", start.Name, over.Name, w)
		}
		if over.Goal == nil || over.Goal.Ratio || over.Goal.Bound != 0.5 {
			t.Errorf("row %q goal %v, want <= 0.5 ms", over.Name, over.Goal)
		}
		for _, tg := range tgs {
			s, o := start.Values[tg.Name], over.Values[tg.Name]
			if s.Err != nil || o.Err != nil {
				t.Fatalf("%s %s: %v, %v", tg.Name, w, s.Err, o.Err)
			}
			if s.V <= 0 || o.V >= s.V {
				t.Errorf("%s %s: start %v ms, over local spawn %v ms", tg.Name, w, s.V, o.V)
			}
		}
	}
	local := tb.Rows[len(tb.Rows)-1]
	for _, tg := range tgs {
		v := local.Values[tg.Name]
		if v.Err != nil || v.Runs != len(Wires()) || v.V <= 0 || v.Min > v.V || v.Max < v.V {
			t.Errorf("%s local spawn %+v, want the median of %d positive medians", tg.Name, v, len(Wires()))
		}
	}
}

// TestGrownStacks: a leak report names the stacks that grew, by how much,
// whatever their addresses, and nothing that did not grow.
func TestGrownStacks(t *testing.T) {
	before := []byte("goroutine profile: total 3\n" +
		"2 @ 0x1 0x2\n#\t0x1\tnet/http.(*conn).serve+0x7f2\t/go/src/net/http/server.go:2102\n\n" +
		"1 @ 0x3\n#\t0x3\tmain.main+0x12\t/src/main.go:9\n\n")
	after := []byte("goroutine profile: total 6\n" +
		"3 @ 0x9 0x2\n#\t0x9\tnet/http.(*conn).serve+0x7f2\t/go/src/net/http/server.go:2102\n\n" +
		"1 @ 0x3\n#\t0x3\tmain.main+0x12\t/src/main.go:9\n\n" +
		"2 @ 0x5\n#\t0x5\tporthole/transport/spdy.(*wire).lingerClose+0x20\t/src/wire.go:420\n")
	got := grownStacks(before, after)
	want := "+1:\n\tnet/http.(*conn).serve+0x7f2 /go/src/net/http/server.go:2102\n\n" +
		"+2:\n\tporthole/transport/spdy.(*wire).lingerClose+0x20 /src/wire.go:420\n\n"
	if got != want {
		t.Errorf("grownStacks:\n%s\nwant:\n%s", got, want)
	}
	if s := grownStacks(nil, after); s != "" {
		t.Errorf("without a first profile: %q, want nothing", s)
	}
}

func TestProfileTotal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"goroutine profile: total 13\n2 @ 0x1\n", 13, true},
		{"goroutine profile: total 7", 7, true},
		{"<html>404</html>\n", 0, false},
		{"goroutine profile: total x\n", 0, false},
	} {
		got, err := profileTotal([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("profileTotal(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestLiveHeap: both servers tell their live heap after a forced
// collection, which is positive and within the heap in use (the spans
// that hold it), as the live bytes are and a running total would not be.
func TestLiveHeap(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.Name, func(t *testing.T) {
			n := startNode(t, tg)
			live, err := n.LiveHeap(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			inuse, err := n.Heap(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if live == 0 || live > inuse {
				t.Errorf("live heap %d bytes, heap in use %d: want 0 < live <= in use", live, inuse)
			}
		})
	}
}
