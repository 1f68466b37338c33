package table

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-2 * time.Second, "<invalid>"},
		{-time.Second, "0s"},
		{0, "0s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{5*time.Minute + 30*time.Second, "5m30s"},
		{10 * time.Minute, "10m"},
		{179 * time.Minute, "179m"},
		{3 * time.Hour, "3h"},
		{7*time.Hour + 59*time.Minute, "7h59m"},
		{47 * time.Hour, "47h"},
		{48 * time.Hour, "2d"},
		{7*24*time.Hour + 23*time.Hour, "7d23h"},
		{8 * 24 * time.Hour, "8d"},
		{729 * 24 * time.Hour, "729d"},
		{730 * 24 * time.Hour, "2y"},
		{(3*365 + 10) * 24 * time.Hour, "3y10d"},
		{8 * 365 * 24 * time.Hour, "8y"},
	} {
		if got := HumanDuration(tc.d); got != tc.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestPodRow(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	running := kube.ContainerState{Running: &kube.StateRunning{StartedAt: "2026-01-01T11:00:00Z"}}
	for _, tc := range []struct {
		name string
		pod  kube.Pod
		want string
	}{
		{"running", kube.Pod{
			ObjectMeta: kube.ObjectMeta{Name: "demo", CreationTimestamp: "2026-01-01T11:55:00Z"},
			Spec:       kube.PodSpec{Containers: []kube.Container{{Name: "a"}, {Name: "b"}}, NodeName: "n1"},
			Status: kube.PodStatus{Phase: "Running", PodIP: "127.0.0.1", ContainerStatuses: []kube.ContainerStatus{
				{Name: "a", Ready: true, RestartCount: 2, State: running},
				{Name: "b", Ready: true, RestartCount: 1, State: running, LastTerminationState: kube.ContainerState{
					Terminated: &kube.StateTerminated{ExitCode: 1, FinishedAt: "2026-01-01T11:58:00Z"}}},
			}},
		}, `["demo","2/2","Running","3 (2m ago)","5m","127.0.0.1","n1","\u003cnone\u003e","\u003cnone\u003e"]`},
		{"waiting", kube.Pod{
			ObjectMeta: kube.ObjectMeta{Name: "w"},
			Spec:       kube.PodSpec{Containers: []kube.Container{{Name: "a"}}},
			Status: kube.PodStatus{Phase: "Pending", ContainerStatuses: []kube.ContainerStatus{
				{Name: "a", State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "CrashLoopBackOff"}}},
			}},
		}, `["w","0/1","CrashLoopBackOff","0","\u003cunknown\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e"]`},
		{"exit-code", kube.Pod{
			ObjectMeta: kube.ObjectMeta{Name: "x"},
			Spec:       kube.PodSpec{Containers: []kube.Container{{Name: "a"}}},
			Status: kube.PodStatus{Phase: "Failed", ContainerStatuses: []kube.ContainerStatus{
				{Name: "a", State: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 3}}},
			}},
		}, `["x","0/1","ExitCode:3","0","\u003cunknown\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e"]`},
		{"signal", kube.Pod{
			ObjectMeta: kube.ObjectMeta{Name: "x"},
			Spec:       kube.PodSpec{Containers: []kube.Container{{Name: "a"}}},
			Status: kube.PodStatus{Phase: "Failed", ContainerStatuses: []kube.ContainerStatus{
				{Name: "a", State: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 137, Signal: 9}}},
			}},
		}, `["x","0/1","Signal:9","0","\u003cunknown\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e"]`},
		{"completed-and-running", kube.Pod{
			ObjectMeta: kube.ObjectMeta{Name: "x"},
			Spec:       kube.PodSpec{Containers: []kube.Container{{Name: "a"}, {Name: "b"}}},
			Status: kube.PodStatus{Phase: "Running", Conditions: []kube.PodCondition{{Type: "Ready", Status: "False"}}, ContainerStatuses: []kube.ContainerStatus{
				{Name: "a", State: kube.ContainerState{Terminated: &kube.StateTerminated{Reason: "Completed"}}},
				{Name: "b", Ready: true, State: running},
			}},
		}, `["x","1/2","NotReady","0","\u003cunknown\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e"]`},
		{"no-status", kube.Pod{
			ObjectMeta: kube.ObjectMeta{Name: "x"},
			Spec:       kube.PodSpec{Containers: []kube.Container{{Name: "a"}}},
		}, `["x","0/1","Unknown","0","\u003cunknown\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e","\u003cnone\u003e"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(PodRow(&tc.pod, now))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if n := len(PodRow(&tc.pod, now)); n != len(PodColumns) {
				t.Errorf("got %d cells, want %d", n, len(PodColumns))
			}
		})
	}
}

func TestPodRowConditions(t *testing.T) {
	for phase, want := range map[string]string{
		"Running":   "null",
		"Pending":   "null",
		"Succeeded": `[{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}]`,
		"Failed":    `[{"type":"Completed","status":"True","reason":"Failed","message":"The pod failed."}]`,
	} {
		got, _ := json.Marshal(PodRowConditions(&kube.Pod{Status: kube.PodStatus{Phase: phase}}))
		if string(got) != want {
			t.Errorf("%s: got %s, want %s", phase, got, want)
		}
	}
}
