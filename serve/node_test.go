package serve

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// TestNodeAPI: the one Node, named as the pods' spec.nodeName, Ready, with
// this machine's facts; selectors pick it or not; other names are 404.
func TestNodeAPI(t *testing.T) {
	s, _ := startServer(t, Options{})
	code, body := get(t, s.URL()+"/api/v1/nodes/porthole")
	var n kube.Node
	if err := json.Unmarshal([]byte(body), &n); code != 200 || err != nil {
		t.Fatalf("GET node: %d %v %s", code, err, body)
	}
	if n.Kind != "Node" || n.Name != kube.LocalNodeName || n.Labels["kubernetes.io/hostname"] != "porthole" ||
		n.Status.NodeInfo.Architecture != runtime.GOARCH || n.Status.NodeInfo.KubeletVersion != "v1.33.0-porthole" ||
		n.Status.Capacity["cpu"] == "" || len(n.Status.Conditions) != 1 || n.Status.Conditions[0].Status != "True" {
		t.Errorf("node: %s", body)
	}
	for _, tt := range []struct {
		query string
		items int
	}{
		{"", 1},
		{"?labelSelector=kubernetes.io%2Fos%3D" + runtime.GOOS, 1},
		{"?labelSelector=node-role.kubernetes.io%2Fcontrol-plane", 0},
		{"?fieldSelector=metadata.name%3Dporthole", 1},
		{"?fieldSelector=spec.unschedulable%3Dfalse", 1},
		{"?fieldSelector=metadata.name%3Dother", 0},
	} {
		var l kube.NodeList
		code, body := get(t, s.URL()+"/api/v1/nodes"+tt.query)
		if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil || l.Kind != "NodeList" || len(l.Items) != tt.items {
			t.Errorf("list nodes%s: %d %s, want %d items", tt.query, code, body, tt.items)
		}
	}
	for _, tt := range []struct {
		path string
		code int
		msg  string
	}{
		{"/api/v1/nodes/other", 404, `nodes \"other\" not found`},
		{"/api/v1/nodes?watch=1&resourceVersion=x", 400, `resourceVersion: Invalid value: \"x\": must be a number`},
		{"/api/v1/nodes?watch=1&timeoutSeconds=-1", 400, `timeoutSeconds: \"-1\" is not a non-negative integer`},
		{"/api/v1/nodes?fieldSelector=status.phase%3DReady", 400, "field label not supported: status.phase"},
	} {
		code, body := get(t, s.URL()+tt.path)
		if code != tt.code || !strings.Contains(body, tt.msg) {
			t.Errorf("GET %s: %d %s, want %d and %q", tt.path, code, body, tt.code, tt.msg)
		}
	}
}

// TestKubectlNodes: kubectl get nodes and describe node, with every
// kubectl, show the node Ready and the pods it runs.
func TestKubectlNodes(t *testing.T) {
	eachKubectl(t, "", func(t *testing.T, k kubectl, _ string) {
		out, errOut, code := k.run(t, "get", "nodes")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STATUS ROLES AGE VERSION" {
			t.Fatalf("get nodes: exit %d\n%s%s", code, out, errOut)
		}
		if f := strings.Fields(lines[1]); len(f) != 5 || f[0] != "porthole" || f[1] != "Ready" || f[2] != "<none>" || f[4] != "v1.33.0-porthole" {
			t.Errorf("get nodes row: %q", lines[1])
		}
		out, errOut, code = k.run(t, "describe", "node", "porthole")
		for _, want := range []string{"Name:               porthole\n", "  Ready   True ", "  InternalIP:  127.0.0.1\n",
			"Non-terminated Pods:          (1 in total)\n", "  default                     demo  ",
			"Lease:\n  HolderIdentity:  porthole\n  AcquireTime:     <unset>\n  RenewTime:       "} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("describe node: exit %d, no %q in\n%s%s", code, want, out, errOut)
			}
		}
		// get -w lists, then watches from the list's resourceVersion:
		// a refused watch ends kubectl at once with an error.
		for res, last := range map[string]string{"nodes": "porthole", "namespaces": "kube-system"} {
			lines, stopWatch := startKubectl(t, k, "get", res, "-w")
			waitLine(t, lines, res+" listed", func(l string) bool { return strings.HasPrefix(l, last+" ") })
			select {
			case l, ok := <-lines:
				t.Errorf("get %s -w: more output (%q) or an end (%v), want a held watch", res, l, !ok)
			case <-time.After(time.Second): // the watch holds; it ends only when kubectl is stopped
			}
			if errOut := stopWatch(); errOut != "" {
				t.Errorf("get %s -w stderr: %s", res, errOut)
			}
		}
	})
}
