package kube

import (
	"cmp"
	"slices"
	"strconv"
)

// Endpoints is core/v1 Endpoints: a Service's pod addresses, grouped into
// subsets that share their ports, as the endpoints controller keeps them
// (kubectl 1.27 to 1.30 describe a Service from it).
type Endpoints struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Subsets    []EndpointSubset `json:"subsets,omitempty"`
}

// EndpointsList is a list of Endpoints.
type EndpointsList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Endpoints `json:"items"`
}

// EndpointSubset is addresses that serve the same ports.
type EndpointSubset struct {
	Addresses         []EndpointAddress `json:"addresses,omitempty"`
	NotReadyAddresses []EndpointAddress `json:"notReadyAddresses,omitempty"`
	Ports             []EndpointPort    `json:"ports,omitempty"`
}

// EndpointAddress is one pod's address.
type EndpointAddress struct {
	IP        string           `json:"ip"`
	NodeName  string           `json:"nodeName,omitempty"`
	TargetRef *ObjectReference `json:"targetRef,omitempty"`
}

// EndpointPort is one port of a subset.
type EndpointPort struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol,omitempty"`
}

// EndpointSlice is discovery.k8s.io/v1 EndpointSlice, what the endpoint
// slice controller keeps for a Service (kubectl 1.31 and later describe a
// Service from them).
type EndpointSlice struct {
	TypeMeta    `json:",inline"`
	ObjectMeta  `json:"metadata"`
	AddressType string          `json:"addressType"`
	Endpoints   []SliceEndpoint `json:"endpoints"`
	Ports       []SlicePort     `json:"ports"`
}

// SlicePort is one port of a slice; no number means every port.
type SlicePort struct {
	Name     string `json:"name"`
	Port     *int32 `json:"port,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// EndpointSliceList is a list of EndpointSlices.
type EndpointSliceList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []EndpointSlice `json:"items"`
}

// SliceEndpoint is one pod of a slice.
type SliceEndpoint struct {
	Addresses  []string           `json:"addresses"`
	Conditions EndpointConditions `json:"conditions"`
	TargetRef  *ObjectReference   `json:"targetRef,omitempty"`
	NodeName   string             `json:"nodeName,omitempty"`
}

// EndpointConditions say whether an endpoint takes traffic.
type EndpointConditions struct {
	Ready       *bool `json:"ready,omitempty"`
	Serving     *bool `json:"serving,omitempty"`
	Terminating *bool `json:"terminating,omitempty"`
}

// ServiceEndpoint is one pod behind a Service: its address, readiness and
// the ports the Service's ports reach on it.
type ServiceEndpoint struct {
	Pod   *Pod
	Ready bool
	Ports []EndpointPort
}

// ServiceEndpoints are the pods of pods that svc selects and that have an
// address and are not terminating, with the ports each serves, in pod name
// order. A Service without a selector has none: its endpoints are its
// owner's to write. A named targetPort a pod does not declare leaves that
// port out for that pod, as the controllers do.
func ServiceEndpoints(svc *Service, pods []*Pod) []ServiceEndpoint {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel, _ := (&LabelSelector{MatchLabels: svc.Spec.Selector}).Selector() // matchLabels only: no error
	var out []ServiceEndpoint
	for _, p := range pods {
		if p.Namespace != svc.Namespace || p.Status.PodIP == "" || p.DeletionTimestamp != "" ||
			p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" || !sel.Matches(Label(p.Labels)) {
			continue
		}
		ep := ServiceEndpoint{Pod: p, Ready: p.IsReady()}
		for _, sp := range svc.Spec.Ports {
			if port, ok := targetPort(sp, p); ok {
				ep.Ports = append(ep.Ports, EndpointPort{Name: sp.Name, Port: port, Protocol: cmp.Or(sp.Protocol, "TCP")})
			}
		}
		out = append(out, ep)
	}
	slices.SortFunc(out, func(a, b ServiceEndpoint) int { return cmp.Compare(a.Pod.Name, b.Pod.Name) })
	return out
}

// targetPort resolves a Service port's targetPort on pod p: a number, a
// container port's name, or (unset) the Service port's own number.
func targetPort(sp ServicePort, p *Pod) (int32, bool) {
	tp := sp.TargetPort
	switch {
	case tp.IsString:
		if n, err := strconv.Atoi(tp.Str); err == nil {
			return int32(n), true
		}
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.Str && cmp.Or(cp.Protocol, "TCP") == cmp.Or(sp.Protocol, "TCP") {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	case tp.Int != 0:
		return tp.Int, true
	default:
		return sp.Port, true
	}
}

// PortGroup is the endpoints of a Service that serve the same ports, and
// a key naming that port set.
type PortGroup struct {
	Key       string
	Ports     []EndpointPort
	Endpoints []ServiceEndpoint
}

// GroupByPorts groups eps by port set, in the order the sets first
// appear, as both controllers do (an Endpoints subset, an EndpointSlice
// each). A pod that serves none of svc's ports is left out.
func GroupByPorts(svc *Service, eps []ServiceEndpoint) []PortGroup {
	var out []PortGroup
	index := map[string]int{}
	for _, ep := range eps {
		if len(ep.Ports) == 0 && len(svc.Spec.Ports) > 0 {
			continue
		}
		key := ""
		for _, p := range ep.Ports {
			key += p.Name + "/" + p.Protocol + "/" + strconv.Itoa(int(p.Port)) + ","
		}
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, PortGroup{Key: key, Ports: ep.Ports})
		}
		out[i].Endpoints = append(out[i].Endpoints, ep)
	}
	return out
}
