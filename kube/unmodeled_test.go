package kube

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestUnmodeledRoundTrip: a Deployment or Service read from JSON writes
// back every spec field it was sent, modeled or not, and keeps none when
// it models them all.
func TestUnmodeledRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		unmodeled bool
		decode    func([]byte) (any, error)
	}{
		{"deployment", `{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web"},"spec":{"replicas":2,"minReadySeconds":5,
			"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{
			"volumes":[{"name":"data","emptyDir":{}}],"nodeSelector":{"disk":"ssd"},
			"containers":[{"name":"a","command":["sleep","infinity"],"resources":{"limits":{"cpu":"100m","memory":"1536Mi"}},
				"ports":[{"containerPort":8080,"hostPort":80}],"volumeMounts":[{"name":"data","mountPath":"/data"}]},
				{"name":"b","image":"busybox","readinessProbe":{"httpGet":{"port":"http","path":"/"},"terminationGracePeriodSeconds":3}}]}}}}`,
			true, func(b []byte) (any, error) { var d Deployment; err := json.Unmarshal(b, &d); return &d, err }},
		{"service", `{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"},"spec":{"publishNotReadyAddresses":true,"sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},
			"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http","appProtocol":"http"},{"port":81,"targetPort":81}]}}`,
			true, func(b []byte) (any, error) { var s Service; err := json.Unmarshal(b, &s); return &s, err }},
		{"modeled", `{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}}`,
			false, func(b []byte) (any, error) { var s Service; err := json.Unmarshal(b, &s); return &s, err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.decode([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			rest := reflect.ValueOf(v).Elem().FieldByName("Unmodeled").Interface()
			if (rest != nil) != tc.unmodeled {
				t.Errorf("unmodeled %v, want some: %t", rest, tc.unmodeled)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var in, got map[string]any
			json.Unmarshal([]byte(tc.in), &in)
			json.Unmarshal(out, &got)
			if !reflect.DeepEqual(in["spec"], got["spec"]) {
				t.Errorf("spec written back:\n got %v\nwant %v", got["spec"], in["spec"])
			}
			// Read again, written again: the same.
			again, err := tc.decode(out)
			if err != nil {
				t.Fatal(err)
			}
			if out2, _ := json.Marshal(again); string(out2) != string(out) {
				t.Errorf("second round trip:\n%s\n%s", out2, out)
			}
		})
	}
}

// TestUnmodeledListChanged: a list that changed length since its
// remainder was taken keeps none (its elements cannot be matched); other
// lists and fields keep theirs, and a modeled value set to nothing takes
// its unmodeled parts with it.
func TestUnmodeledListChanged(t *testing.T) {
	var s Service
	in := `{"spec":{"publishNotReadyAddresses":true,"ports":[{"port":80,"appProtocol":"http"}]}}`
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	s.Spec.Ports = append(s.Spec.Ports, ServicePort{Port: 81})
	out, _ := json.Marshal(s)
	var got struct{ Spec map[string]any }
	json.Unmarshal(out, &got)
	if got.Spec["publishNotReadyAddresses"] != true || len(got.Spec["ports"].([]any)) != 2 {
		t.Fatalf("spec %v", got.Spec)
	}
	for _, p := range got.Spec["ports"].([]any) {
		if _, ok := p.(map[string]any)["appProtocol"]; ok {
			t.Errorf("a port kept the remainder of a list of another length: %v", p)
		}
	}
	s.Spec.Ports = nil
	out, _ = json.Marshal(s)
	got.Spec = nil
	json.Unmarshal(out, &got)
	if _, ok := got.Spec["ports"]; ok || got.Spec["publishNotReadyAddresses"] != true {
		t.Errorf("ports removed: %v", got.Spec)
	}
}
