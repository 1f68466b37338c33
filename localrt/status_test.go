package localrt

import (
	"encoding/json"
	"testing"
	"time"
)

// TestConditions: a pod's conditions as the kubelet writes them, for each
// phase: in its order, with its reasons and messages, and lastProbeTime
// null.
func TestConditions(t *testing.T) {
	const (
		sched = `{"type":"PodScheduled","status":"True","lastProbeTime":null}`
		init  = `{"type":"Initialized","status":"True","lastProbeTime":null}`
	)
	for _, tt := range []struct {
		phase   string
		unready []string
		want    string
	}{
		{phaseRunning, nil, `[{"type":"PodReadyToStartContainers","status":"True","lastProbeTime":null},` + init + `,` +
			`{"type":"Ready","status":"True","lastProbeTime":null},{"type":"ContainersReady","status":"True","lastProbeTime":null},` + sched + `]`},
		{phasePending, []string{"web", "db"}, `[{"type":"PodReadyToStartContainers","status":"True","lastProbeTime":null},` + init + `,` +
			`{"type":"Ready","status":"False","lastProbeTime":null,"reason":"ContainersNotReady","message":"containers with unready status: [web db]"},` +
			`{"type":"ContainersReady","status":"False","lastProbeTime":null,"reason":"ContainersNotReady","message":"containers with unready status: [web db]"},` + sched + `]`},
		{phaseSucceeded, []string{"web"}, `[{"type":"PodReadyToStartContainers","status":"False","lastProbeTime":null},` +
			`{"type":"Initialized","status":"True","lastProbeTime":null,"reason":"PodCompleted"},` +
			`{"type":"Ready","status":"False","lastProbeTime":null,"reason":"PodCompleted"},` +
			`{"type":"ContainersReady","status":"False","lastProbeTime":null,"reason":"PodCompleted"},` + sched + `]`},
		{phaseFailed, []string{"web"}, `[{"type":"PodReadyToStartContainers","status":"False","lastProbeTime":null},` + init + `,` +
			`{"type":"Ready","status":"False","lastProbeTime":null,"reason":"PodFailed"},` +
			`{"type":"ContainersReady","status":"False","lastProbeTime":null,"reason":"PodFailed"},` + sched + `]`},
	} {
		got, err := json.Marshal(conditions(tt.phase, tt.unready))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("%s %v:\n got %s\nwant %s", tt.phase, tt.unready, got, tt.want)
		}
	}
}

// TestConditionsSince: a condition keeps its transition time while its
// status holds, and takes the time of the change when it changes.
func TestConditionsSince(t *testing.T) {
	p := &pod{rt: &Runtime{}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	times := func(now time.Time, unready ...string) map[string]string {
		m := map[string]string{}
		for _, c := range p.since(conditions(phaseRunning, unready), now) {
			m[c.Type] = c.LastTransitionTime
		}
		return m
	}
	first := times(t0, "web")
	if first["Ready"] != "2026-01-02T03:04:05Z" || first["PodScheduled"] != "2026-01-02T03:04:05Z" {
		t.Fatalf("first report: %v", first)
	}
	if again := times(t0.Add(time.Minute), "web"); again["Ready"] != first["Ready"] {
		t.Errorf("unchanged Ready moved to %s", again["Ready"])
	}
	ready := times(t0.Add(2 * time.Minute))
	if ready["Ready"] != "2026-01-02T03:06:05Z" || ready["ContainersReady"] != "2026-01-02T03:06:05Z" || ready["PodScheduled"] != first["PodScheduled"] {
		t.Errorf("after the change: %v", ready)
	}
}
