package serve

import (
	"bufio"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	host "github.com/porthole/porthole/internal/machine"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/table"
	"github.com/porthole/porthole/protocol/status"
)

// The node is the machine serve runs its pods on: one Node, named as the
// pods' spec.nodeName, for kubectl get nodes and kubectl describe node.
// Its facts are this machine's, read once; it is Ready while serve runs.

// machine is what the node reports of this machine.
type machine struct {
	info     kube.NodeSystemInfo
	capacity map[string]string
}

// readMachine reads this machine's identity, kernel, OS, processors and
// memory, leaving out what the system does not say.
func readMachine(kubeletVersion string) machine {
	m := machine{
		info: kube.NodeSystemInfo{
			MachineID:               readLine("/etc/machine-id"),
			BootID:                  readLine("/proc/sys/kernel/random/boot_id"),
			KernelVersion:           readLine("/proc/sys/kernel/osrelease"),
			OSImage:                 osImage(),
			ContainerRuntimeVersion: "porthole://local",
			KubeletVersion:          kubeletVersion,
			OperatingSystem:         runtime.GOOS,
			Architecture:            runtime.GOARCH,
		},
		capacity: map[string]string{"cpu": strconv.Itoa(runtime.NumCPU())},
	}
	if kib := host.MemTotalKiB(); kib > 0 {
		m.capacity["memory"] = strconv.FormatInt(kib, 10) + "Ki"
	}
	return m
}

func readLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// osImage is the PRETTY_NAME of os-release, as the kubelet reports it.
func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// node is the Node as of now.
func (a *api) node() kube.Node {
	started := a.started.UTC().Format(timeLayout)
	return kube.Node{
		TypeMeta: kube.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: kube.ObjectMeta{
			Name:              kube.LocalNodeName,
			UID:               kube.StableUID("node/" + kube.LocalNodeName),
			ResourceVersion:   "1",
			CreationTimestamp: started,
			Labels: map[string]string{
				"kubernetes.io/hostname":  kube.LocalNodeName,
				"kubernetes.io/os":        runtime.GOOS,
				"kubernetes.io/arch":      runtime.GOARCH,
				"beta.kubernetes.io/os":   runtime.GOOS,
				"beta.kubernetes.io/arch": runtime.GOARCH,
			},
		},
		Status: kube.NodeStatus{
			Capacity:    a.machine.capacity,
			Allocatable: a.machine.capacity,
			Conditions: []kube.NodeCondition{{
				Type: "Ready", Status: "True", Reason: "KubeletReady", Message: "porthole serve is running pods",
				LastHeartbeatTime: a.now().UTC().Format(timeLayout), LastTransitionTime: started,
			}},
			Addresses: []kube.NodeAddress{{Type: "InternalIP", Address: "127.0.0.1"}, {Type: "Hostname", Address: kube.LocalNodeName}},
			NodeInfo:  a.machine.info,
		},
	}
}

// timeLayout is how Kubernetes writes metav1.Time.
const timeLayout = "2006-01-02T15:04:05Z07:00"

func (a *api) listNodes(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	sel, aerr := parseSelectors(r.URL.Query(), kube.NodeFields)
	if aerr != nil {
		return nil, aerr
	}
	items := []kube.Node{}
	if n := a.node(); sel.labels.Matches(kube.Label(n.Labels)) && sel.fields.Matches(kube.NodeField(&n)) {
		items = append(items, n)
	}
	if isWatch(r.URL.Query()) {
		return nil, a.staticWatch(w, r, neg, "nodes", "Node", len(items), func(i int) (any, *status.HTTPError) {
			if neg.out == outTable {
				return a.nodeTable(r, neg, items[i:i+1])
			}
			return items[i], nil
		})
	}
	if neg.out == outTable {
		return a.nodeTable(r, neg, items)
	}
	for i := range items {
		items[i].TypeMeta = kube.TypeMeta{}
	}
	return kube.NodeList{TypeMeta: kube.TypeMeta{Kind: "NodeList", APIVersion: "v1"},
		ListMeta: kube.ListMeta{ResourceVersion: "1"}, Items: items}, nil
}

func (a *api) getNode(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), !strings.HasSuffix(r.URL.Path, "/status"))
	if !ok {
		return nil, notAcceptable()
	}
	n := a.node()
	if r.PathValue("name") != n.Name {
		return nil, notFound("nodes", r.PathValue("name"))
	}
	if neg.out == outTable {
		return a.nodeTable(r, neg, []kube.Node{n})
	}
	return n, nil
}

// nodeLeaseNamespace holds each node's heartbeat Lease.
const nodeLeaseNamespace = "kube-node-lease"

// nodeLease is the node's heartbeat Lease, as a kubelet keeps it (renewed
// every 10 s, 40 s to live), which kubectl describe node shows; held while
// serve runs.
func (a *api) nodeLease() map[string]any {
	started := a.started.UTC()
	since := a.now().Sub(started)
	renewed := started.Add(since - since%(10*time.Second))
	return map[string]any{
		"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
		"metadata": map[string]any{
			"name": kube.LocalNodeName, "namespace": nodeLeaseNamespace,
			"uid":               kube.StableUID("lease/" + kube.LocalNodeName),
			"resourceVersion":   strconv.FormatInt(1+int64(since/(10*time.Second)), 10),
			"creationTimestamp": started.Format(timeLayout),
			"ownerReferences": []map[string]any{{"apiVersion": "v1", "kind": "Node", "name": kube.LocalNodeName,
				"uid": kube.StableUID("node/" + kube.LocalNodeName)}},
		},
		"spec": map[string]any{
			"holderIdentity": kube.LocalNodeName, "leaseDurationSeconds": 40,
			"renewTime": renewed.Format(microTimeLayout),
		},
	}
}

// microTimeLayout is how Kubernetes writes metav1.MicroTime.
const microTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

func (a *api) getNodeLease(r *http.Request) (any, *status.HTTPError) {
	if _, ok := negotiate(r.Header.Get("Accept"), false); !ok {
		return nil, notAcceptable()
	}
	if r.PathValue("namespace") != nodeLeaseNamespace || r.PathValue("name") != kube.LocalNodeName {
		e := notFound("leases.coordination.k8s.io", r.PathValue("name"))
		e.Status.Details.Kind = "leases"
		e.Status.Details.Group = "coordination.k8s.io"
		return nil, e
	}
	return a.nodeLease(), nil
}

func (a *api) nodeTable(r *http.Request, neg negotiation, items []kube.Node) (any, *status.HTTPError) {
	return syntheticTable(r, neg, a.now(), items, table.NodeColumns, table.NodeRow,
		func(n *kube.Node) (kube.TypeMeta, kube.ObjectMeta) { return n.TypeMeta, n.ObjectMeta })
}
