package kube

import (
	"reflect"
	"testing"
)

// TestServiceEndpoints: which pods are behind a Service, ready or not,
// and the port each Service port reaches on each.
func TestServiceEndpoints(t *testing.T) {
	pod := func(name, ns string, labels map[string]string, ip string, ready bool, ports ...ContainerPort) *Pod {
		p := &Pod{ObjectMeta: ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec:   PodSpec{Containers: []Container{{Name: "c", Ports: ports}}},
			Status: PodStatus{Phase: "Running", PodIP: ip}}
		st := "False"
		if ready {
			st = "True"
		}
		p.Status.Conditions = []PodCondition{{Type: "Ready", Status: st}}
		return p
	}
	web := map[string]string{"app": "web"}
	terminating := pod("d-terminating", "default", web, "127.0.0.1", true)
	terminating.DeletionTimestamp = "2026-12-06T00:00:00Z"
	done := pod("e-done", "default", web, "127.0.0.1", false)
	done.Status.Phase = "Succeeded"
	pods := []*Pod{
		pod("b-named", "default", web, "127.0.0.1", true, ContainerPort{Name: "http", ContainerPort: 8080}),
		pod("a-unnamed", "default", web, "127.0.0.1", false),
		pod("c-no-ip", "default", web, "", true),
		terminating, done,
		pod("f-other-app", "default", map[string]string{"app": "db"}, "127.0.0.1", true),
		pod("g-other-ns", "prod", web, "127.0.0.1", true),
	}
	svc := &Service{ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"}, Spec: ServiceSpec{Selector: web, Ports: []ServicePort{
		{Name: "http", Port: 80, TargetPort: FromString("http")},
		{Name: "metrics", Port: 9090, TargetPort: FromInt(9100), Protocol: "TCP"},
		{Name: "dns", Port: 53, Protocol: "UDP"},
	}}}
	type got struct {
		name  string
		ready bool
		ports []EndpointPort
	}
	var out []got
	for _, ep := range ServiceEndpoints(svc, pods) {
		out = append(out, got{ep.Pod.Name, ep.Ready, ep.Ports})
	}
	want := []got{
		{"a-unnamed", false, []EndpointPort{{Name: "metrics", Port: 9100, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}}},
		{"b-named", true, []EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "metrics", Port: 9100, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}}},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got %+v\nwant %+v", out, want)
	}
	// Two port sets (b-named also serves http): two groups, in order.
	groups := GroupByPorts(svc, ServiceEndpoints(svc, pods))
	if len(groups) != 2 || len(groups[0].Endpoints) != 1 || groups[0].Endpoints[0].Pod.Name != "a-unnamed" ||
		len(groups[1].Endpoints) != 1 || groups[1].Endpoints[0].Pod.Name != "b-named" || groups[0].Key == groups[1].Key {
		t.Errorf("groups: %+v", groups)
	}
	svc.Spec.Selector = nil
	if eps := ServiceEndpoints(svc, pods); eps != nil {
		t.Errorf("a Service without a selector: %+v, want none", eps)
	}
}
