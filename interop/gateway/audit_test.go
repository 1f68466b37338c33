package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/interop/internal/harness"
)

// auditRecords reads the gateway's audit log: the records it has
// finished writing.
func auditRecords(t *testing.T, path string) []audit.Event {
	t.Helper()
	lines, err := harness.ReadJSONLines(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, l := range lines {
		var e audit.Event
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

func (c *client) mark(t *testing.T) int { return len(auditRecords(t, c.gw.AuditLog)) }

// wantWires is the session's wire in and out: the client's wire, and SPDY
// toward the SPDY-only upstream.
func (c *client) wantWires() (in, out string) {
	in, out = c.w.Name, c.w.Name
	switch {
	case c.gw == topo.toKubelet:
		out = "spdy"
	case c.gw == topo.toWSOnly && !c.w.WebSocket:
		out = "websocket"
	}
	return in, out
}

// checkSession requires exactly one session since mark, by alice, on the
// expected wires (so a silent fallback to SPDY fails the test), and, when
// ended is set, its end record with outcome ok. The gateway writes the end
// record after the client saw the end, so this polls a bounded while.
func (c *client) checkSession(t *testing.T, mark int, verb string, ended bool) []audit.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var recs []audit.Event
	for {
		recs = auditRecords(t, c.gw.AuditLog)[mark:]
		if !ended || hasEnd(recs) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// End records of sessions that started before mark (a kubectl killed by
	// the previous case) may land after it: keep only this case's sessions
	// and denials.
	started := map[string]bool{}
	for _, r := range recs {
		if r.Stage == audit.StageStart {
			started[r.ID] = true
		}
	}
	mine := recs[:0:0]
	for _, r := range recs {
		if started[r.ID] || r.Stage == audit.StageDenied {
			mine = append(mine, r)
		}
	}
	recs = mine
	in, out := c.wantWires()
	var starts, ends int
	for _, r := range recs {
		switch r.Stage {
		case audit.StageStart:
			starts++
		case audit.StageEnd:
			ends++
			if r.Outcome != "ok" {
				t.Errorf("session ended %q: %s", r.Outcome, r.Reason)
			}
		default:
			t.Errorf("unexpected record %+v", r)
		}
		if r.User != "alice" || r.Verb != verb || r.WireIn != in || r.WireOut != out {
			t.Errorf("record %+v, want user alice verb %s wires %s -> %s", r, verb, in, out)
		}
	}
	if starts != 1 || (ended && ends != 1) {
		t.Errorf("got %d starts and %d ends since mark, want 1 and %v: %+v", starts, ends, ended, recs)
	}
	return recs
}

// hasEnd reports whether a session that started in recs also ended there.
func hasEnd(recs []audit.Event) bool {
	started := map[string]bool{}
	for _, r := range recs {
		switch {
		case r.Stage == audit.StageStart:
			started[r.ID] = true
		case r.Stage == audit.StageEnd && started[r.ID]:
			return true
		}
	}
	return false
}

// lastRecord is the last of recs, or a zero record.
func lastRecord(recs []audit.Event) audit.Event {
	if len(recs) == 0 {
		return audit.Event{}
	}
	return recs[len(recs)-1]
}
