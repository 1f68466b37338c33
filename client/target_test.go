package client

import (
	"testing"

	"github.com/porthole/porthole/kube"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, res, name, err string
	}{
		{in: "web", res: "pods", name: "web"},
		{in: "po/web", res: "pods", name: "web"},
		{in: "svc/web", res: "services", name: "web"},
		{in: "Deployment.apps/web", res: "deployments", name: "web"},
		{in: "rs/web-1", res: "replicasets", name: "web-1"},
		{in: "statefulsets/db", res: "statefulsets", name: "db"},
		{in: "cm/web", err: `"cm/web" names no pods: give a pod, service, deployment, replica set or stateful set`},
		{in: "svc/", err: `invalid resource name "svc/"`},
		{in: "svc/a/b", err: `invalid resource name "svc/a/b"`},
	} {
		got, err := ParseTarget(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.Resource != tc.res || got.Name != tc.name {
			t.Errorf("%q: %+v, %v; want %s %s", tc.in, got, err, tc.res, tc.name)
		}
	}
}

func TestSelectorString(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		isMap bool
		want  string
	}{
		{`{"b":"2","a":"1"}`, true, "a=1,b=2"},
		{`{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]},` +
			`{"key":"x","operator":"Exists"},{"key":"y","operator":"DoesNotExist"},{"key":"z","operator":"NotIn","values":["c"]}]}`,
			false, "app=web,tier in (a,b),x,!y,z notin (c)"},
		{`null`, true, ""},
	} {
		got, err := rawSelector(tc.raw).String(tc.isMap)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

// TestForwardedPorts follows kubectl's mapping of port arguments onto a
// Service's target ports and a pod's named ports.
func TestForwardedPorts(t *testing.T) {
	pod := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "web-1"}, Spec: kube.PodSpec{Containers: []kube.Container{
		{Name: "c", Ports: []kube.ContainerPort{{Name: "http", ContainerPort: 8000}, {Name: "metrics", ContainerPort: 9100}}}}}}
	svc := &Service{Name: "web", Ports: []ServicePort{
		{Name: "web", Port: 80, TargetPort: "http"}, {Name: "direct", Port: 81, TargetPort: "8001"}, {Port: 82}}}
	for _, tc := range []struct {
		name  string
		svc   *Service
		specs []string
		want  []ForwardedPort
		err   string
	}{
		{"service port to named target", svc, []string{"80"}, []ForwardedPort{{Local: 80, Remote: 8000}}, ""},
		{"service port name, local given", svc, []string{"9999:web"}, []ForwardedPort{{Local: 9999, Remote: 8000}}, ""},
		{"service port name, random local", svc, []string{":direct"}, []ForwardedPort{{Local: 0, Remote: 8001}}, ""},
		{"target port omitted", svc, []string{"82"}, []ForwardedPort{{Local: 82, Remote: 82}}, ""},
		{"no such service port", svc, []string{"83"}, nil, "Service web does not have a service port 83"},
		{"no such service port name", svc, []string{"nope"}, nil, "Service 'web' does not have a named port 'nope'"},
		{"headless", &Service{Name: "h", Headless: true, Ports: []ServicePort{{Port: 80, TargetPort: "http"}}}, []string{"80"}, []ForwardedPort{{Local: 80, Remote: 80}}, ""},
		{"pod named port", nil, []string{"metrics", "7000:http", "5432"}, []ForwardedPort{{Local: 9100, Remote: 9100}, {Local: 7000, Remote: 8000}, {Local: 5432, Remote: 5432}}, ""},
		{"pod without the name", nil, []string{"grpc"}, nil, "Pod 'web-1' does not have a named port 'grpc'"},
	} {
		got, err := (&Resolved{Pod: pod, Service: tc.svc}).ForwardedPorts(tc.specs)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: %v, want error %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}

func TestMoreActive(t *testing.T) {
	mk := func(name, node, phase string, isReady bool, restarts int32, created string) *kube.Pod {
		p := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: name, CreationTimestamp: created}, Spec: kube.PodSpec{NodeName: node}}
		p.Status.Phase = phase
		if isReady {
			p.Status.Conditions = []kube.PodCondition{{Type: "Ready", Status: "True"}}
		}
		p.Status.ContainerStatuses = []kube.ContainerStatus{{RestartCount: restarts}}
		return p
	}
	for _, tc := range []struct{ a, b *kube.Pod }{
		{mk("assigned", "n", "Pending", false, 0, "1"), mk("unassigned", "", "Pending", false, 0, "2")},
		{mk("running", "n", "Running", false, 0, "1"), mk("pending", "n", "Pending", false, 0, "2")},
		{mk("ready", "n", "Running", true, 0, "1"), mk("not-ready", "n", "Running", false, 0, "2")},
		{mk("steady", "n", "Running", true, 0, "1"), mk("restarting", "n", "Running", true, 3, "2")},
		{mk("newer", "n", "Running", true, 0, "2026-01-02T00:00:00Z"), mk("older", "n", "Running", true, 0, "2026-01-01T00:00:00Z")},
	} {
		if !moreActive(tc.a, tc.b) || moreActive(tc.b, tc.a) {
			t.Errorf("%s should come before %s", tc.a.Name, tc.b.Name)
		}
	}
}
