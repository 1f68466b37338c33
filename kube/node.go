package kube

// Node is a v1 Node: the machine pods run on, as kubectl get nodes and
// kubectl describe node read it.
type Node struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       NodeSpec   `json:"spec"`
	Status     NodeStatus `json:"status"`
}

// NodeSpec is the part of a node's spec porthole has.
type NodeSpec struct {
	Unschedulable bool `json:"unschedulable,omitempty"`
}

// NodeStatus is what the node reports of itself.
type NodeStatus struct {
	Capacity        map[string]string   `json:"capacity,omitempty"`
	Allocatable     map[string]string   `json:"allocatable,omitempty"`
	Conditions      []NodeCondition     `json:"conditions,omitempty"`
	Addresses       []NodeAddress       `json:"addresses,omitempty"`
	DaemonEndpoints NodeDaemonEndpoints `json:"daemonEndpoints"`
	NodeInfo        NodeSystemInfo      `json:"nodeInfo"`
}

// NodeCondition is one condition of a node (Ready, ...).
type NodeCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	LastHeartbeatTime  string `json:"lastHeartbeatTime,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
}

// NodeAddress is one address of a node: InternalIP, ExternalIP, Hostname.
type NodeAddress struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// NodeDaemonEndpoints are the ports of the node's daemons.
type NodeDaemonEndpoints struct {
	KubeletEndpoint DaemonEndpoint `json:"kubeletEndpoint"`
}

// DaemonEndpoint is one daemon's port (capitalised in the API).
type DaemonEndpoint struct {
	Port int32 `json:"Port"`
}

// NodeSystemInfo describes the node's machine and software; the API
// writes every field, empty or not.
type NodeSystemInfo struct {
	MachineID               string `json:"machineID"`
	SystemUUID              string `json:"systemUUID"`
	BootID                  string `json:"bootID"`
	KernelVersion           string `json:"kernelVersion"`
	OSImage                 string `json:"osImage"`
	ContainerRuntimeVersion string `json:"containerRuntimeVersion"`
	KubeletVersion          string `json:"kubeletVersion"`
	KubeProxyVersion        string `json:"kubeProxyVersion"`
	OperatingSystem         string `json:"operatingSystem"`
	Architecture            string `json:"architecture"`
}

// NodeList is a v1 NodeList.
type NodeList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Node `json:"items"`
}

// NodeFields are the field selector keys the node list supports.
var NodeFields = []string{"metadata.name", "spec.unschedulable"}

// NodeField returns a lookup function over the selectable fields of n.
func NodeField(n *Node) func(string) (string, bool) {
	return func(k string) (string, bool) {
		switch k {
		case "metadata.name":
			return n.Name, true
		case "spec.unschedulable":
			if n.Spec.Unschedulable {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
}
