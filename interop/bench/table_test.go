package bench

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestTableWrite(t *testing.T) {
	tab := &Table{Nodes: []string{"porthole", "kubelet-lib"}, Rows: []*Row{
		{Name: "speed", Unit: "MB/s", HigherBetter: true, Values: map[string]Value{"porthole": {V: 300, Min: 250, Max: 310, Runs: 3}, "kubelet-lib": {V: 200}}, Goal: ratioAtLeast(2)},
		{Name: "size", Unit: "KiB", Values: map[string]Value{"porthole": {V: 30}, "kubelet-lib": {V: 60}}, Goal: atMost(32)},
		{Name: "memory", Unit: "KiB", Values: map[string]Value{"porthole": {Err: errors.New("boom")}, "kubelet-lib": {V: 80}}},
		{Name: "memory2", Unit: "KiB", Values: map[string]Value{"porthole": {Err: errors.New("boom")}, "kubelet-lib": {V: 0}}},
		{Name: "held", Unit: "sessions", HigherBetter: true, Values: map[string]Value{"porthole": {V: 2700, Note: "file limit"}, "kubelet-lib": {V: 0}}},
	}}
	var b strings.Builder
	if err := tab.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `row     |unit     |porthole            |kubelet-lib |ratio |better |goal
speed   |MB/s     |300.0 (250.0-310.0) |200.0       |1.50  |higher |ratio >= 2: missed
size    |KiB      |30.0                |60.0        |0.50  |lower  |<= 32: met
memory  |KiB      |n/a [1]             |80.0        |-     |lower  |none
memory2 |KiB      |n/a [1]             |0.00        |-     |lower  |none
held    |sessions |2700.0 [2]          |0.00        |-     |higher |none
[1] porthole: boom
[2] porthole: file limit
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTableWriteJSON(t *testing.T) {
	tab := &Table{Nodes: []string{"porthole", "kubelet-lib"}, Rows: []*Row{
		{Name: "speed", Unit: "MB/s", HigherBetter: true, Values: map[string]Value{"porthole": {V: 300, Min: 250, Max: 310, Runs: 3}, "kubelet-lib": {V: 100}}, Goal: ratioAtLeast(2)},
		{Name: "memory", Unit: "KiB", Values: map[string]Value{"porthole": {Err: errors.New("boom")}, "kubelet-lib": {V: 80}}, Goal: atMost(32)},
	}}
	var b strings.Builder
	if err := tab.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Subject string
		Rows    []struct {
			Name    string
			Ratio   *float64
			Goal    string
			GoalMet *bool
			Values  map[string]struct {
				Value    *float64
				Min, Max *float64
				Runs     int
				Error    string
			}
		}
	}
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	speed, mem := got.Rows[0], got.Rows[1]
	p := speed.Values["porthole"]
	switch {
	case got.Subject != "porthole" || len(got.Rows) != 2:
		t.Errorf("shape: %s", b.String())
	case speed.Ratio == nil || *speed.Ratio != 3 || speed.GoalMet == nil || !*speed.GoalMet || speed.Goal != "ratio >= 2":
		t.Errorf("speed ratio/goal: %s", b.String())
	case p.Value == nil || *p.Value != 300 || *p.Min != 250 || *p.Max != 310 || p.Runs != 3:
		t.Errorf("speed values: %s", b.String())
	case mem.Ratio != nil || mem.GoalMet != nil || mem.Values["porthole"].Error != "boom" || mem.Values["porthole"].Value != nil:
		t.Errorf("missing cell: %s", b.String())
	}
}
