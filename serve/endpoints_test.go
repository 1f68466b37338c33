package serve

import (
	"regexp"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube"
)

// TestKubectlServiceEndpoints: kubectl describe service lists the pods
// behind a Service (kubectl 1.27 to 1.30 read its Endpoints, 1.31 and
// later its EndpointSlices), and kubectl get endpoints and get
// endpointslices show them.
func TestKubectlServiceEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	s, kc, pods := startWorkloads(t)
	var ep kube.Endpoints
	getJSON(t, s, "/api/v1/namespaces/default/endpoints/web", &ep)
	if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 2 || len(ep.Subsets[0].NotReadyAddresses) != 0 ||
		len(ep.Subsets[0].Ports) != 1 || ep.Subsets[0].Ports[0] != (kube.EndpointPort{Name: "http", Port: 1, Protocol: "TCP"}) {
		t.Fatalf("endpoints: %+v", ep)
	}
	for i, a := range ep.Subsets[0].Addresses {
		if a.IP != "127.0.0.1" || a.NodeName != kube.LocalNodeName || a.TargetRef == nil || a.TargetRef.Name != pods[i] || a.TargetRef.Kind != "Pod" {
			t.Errorf("address %d: %+v, want pod %s", i, a, pods[i])
		}
	}
	var sl kube.EndpointSliceList
	getJSON(t, s, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb", &sl)
	if len(sl.Items) != 1 || sl.Items[0].AddressType != "IPv4" || len(sl.Items[0].Endpoints) != 2 || !strings.HasPrefix(sl.Items[0].Name, "web-") ||
		len(sl.Items[0].Ports) != 1 || sl.Items[0].Ports[0].Port == nil || *sl.Items[0].Ports[0].Port != 1 {
		t.Fatalf("endpoint slices: %+v", sl.Items)
	}
	for _, e := range sl.Items[0].Endpoints {
		if e.Conditions.Ready == nil || !*e.Conditions.Ready || len(e.Addresses) != 1 || e.Addresses[0] != "127.0.0.1" {
			t.Errorf("slice endpoint: %+v", e)
		}
	}
	getJSON(t, s, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/"+sl.Items[0].Name, &sl.Items[0])
	if code, body := get(t, s.URL()+"/api/v1/namespaces/default/endpoints/nothing"); code != 404 || !strings.Contains(body, `endpoints \"nothing\" not found`) {
		t.Errorf("unknown endpoints: %d %s", code, body)
	}
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			out, errOut, code := k.run(t, "describe", "service", "web")
			// The column's width follows the longest label: "Internal Traffic
			// Policy" in the kubectls that print it.
			if want := regexp.MustCompile(`(?m)^Endpoints: +127\.0\.0\.1:1,127\.0\.0\.1:1$`); code != 0 || !want.MatchString(out) {
				t.Errorf("describe service: exit %d, no %s in\n%s%s", code, want, out, errOut)
			}
			out, errOut, code = k.run(t, "get", "endpoints")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME ENDPOINTS AGE" ||
				!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "web 127.0.0.1:1,127.0.0.1:1 ") ||
				errOut != "Warning: "+endpointsDeprecated+"\n" { // as from the API server at 1.33
				t.Errorf("get endpoints: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = k.run(t, "get", "endpointslices")
			lines = strings.Split(strings.TrimSpace(out), "\n")
			if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME ADDRESSTYPE PORTS ENDPOINTS AGE" ||
				!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), sl.Items[0].Name+" IPv4 1 127.0.0.1,127.0.0.1 ") {
				t.Errorf("get endpointslices: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}
