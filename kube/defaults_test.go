package kube

import (
	"encoding/json"
	"testing"
)

func TestPullPolicy(t *testing.T) {
	for _, tt := range []struct{ image, want string }{
		{"nginx", "Always"},
		{"nginx:latest", "Always"},
		{"nginx:1.27", "IfNotPresent"},
		{"registry.example:5000/team/app", "Always"},
		{"registry.example:5000/team/app:v2", "IfNotPresent"},
		{"nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "IfNotPresent"},
		{"nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "Always"},
		{"", "IfNotPresent"},
	} {
		if got := pullPolicy(tt.image); got != tt.want {
			t.Errorf("pullPolicy(%q) = %q, want %q", tt.image, got, tt.want)
		}
	}
}

// TestPodSpecDefault: the fields the API server fills appear in the JSON
// as it writes them, and what a manifest sets is kept.
func TestPodSpecDefault(t *testing.T) {
	g := int64(3)
	s := PodSpec{
		Containers: []Container{
			{Name: "a", Image: "busybox:1.36", Ports: []ContainerPort{{ContainerPort: 80}}},
			{Name: "b", ImagePullPolicy: "Never", TerminationMessagePolicy: "FallbackToLogsOnError"},
		},
		RestartPolicy:                 "Never",
		TerminationGracePeriodSeconds: &g,
	}
	s.Default()
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"containers":[` +
		`{"name":"a","image":"busybox:1.36","ports":[{"containerPort":80,"protocol":"TCP"}],"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","resources":{}},` +
		`{"name":"b","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"FallbackToLogsOnError","imagePullPolicy":"Never","resources":{}}],` +
		`"restartPolicy":"Never","terminationGracePeriodSeconds":3,"dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}`
	if string(got) != want {
		t.Errorf("defaulted spec:\n got %s\nwant %s", got, want)
	}
}
