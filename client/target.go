package client

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/porthole/porthole/kube"
)

// Target is what a kubectl-style argument names: a pod, or a workload or
// Service whose pods are chosen from (TYPE/NAME; a bare NAME is a pod).
type Target struct {
	// Resource is the plural resource: pods, services, deployments,
	// replicasets or statefulsets.
	Resource string
	Name     string
}

// targetKinds maps the names kubectl accepts to resources and their API
// paths (apps/v1 for the workloads).
var targetKinds = map[string]string{
	"pod": "pods", "pods": "pods", "po": "pods",
	"service": "services", "services": "services", "svc": "services",
	"deployment": "deployments", "deployments": "deployments", "deploy": "deployments",
	"replicaset": "replicasets", "replicasets": "replicasets", "rs": "replicasets",
	"statefulset": "statefulsets", "statefulsets": "statefulsets", "sts": "statefulsets",
}

// ParseTarget reads NAME, or TYPE/NAME with TYPE one kubectl accepts for
// pods, services, deployments, replica sets and stateful sets (any case,
// with or without an API group suffix such as deployments.apps).
func ParseTarget(s string) (Target, error) {
	typ, name, ok := strings.Cut(s, "/")
	if !ok {
		typ, name = "pods", s
	}
	typ, _, _ = strings.Cut(strings.ToLower(typ), ".")
	res, known := targetKinds[typ]
	switch {
	case !known:
		return Target{}, fmt.Errorf("%q names no pods: give a pod, service, deployment, replica set or stateful set", s)
	case name == "" || strings.Contains(name, "/"):
		return Target{}, fmt.Errorf("invalid resource name %q", s)
	}
	return Target{Resource: res, Name: name}, nil
}

// String is TYPE/NAME as kubectl prints it (deployment/web).
func (t Target) String() string {
	return strings.TrimSuffix(t.Resource, "s") + "/" + t.Name
}

// Service is what a Service target keeps for port mapping.
type Service struct {
	Name     string
	Headless bool // clusterIP None: ports are the pods' own
	Ports    []ServicePort
}

// ServicePort is one port of a Service: its number and name, and the
// target port on the pods, a number or a container port's name.
type ServicePort struct {
	Name       string
	Port       int32
	TargetPort string // a number or a name; "" means Port
}

// Resolved is a target resolved to one pod.
type Resolved struct {
	Pod *kube.Pod
	// Service is set for a Service target (its ports map onto the pod's).
	Service *Service
	// Selector is the label selector that names the target's pods ("" for
	// a pod target).
	Selector string
}

// ResolveTarget picks the pod a target stands for, as kubectl does: a pod
// is read as is; for a Service, a Deployment, a ReplicaSet or a StatefulSet
// the pods its selector matches are listed and the most active one is
// taken (assigned to a node, running, ready, ready longest, fewest
// restarts, newest). No pod matching is an error naming the target.
func (c *Client) ResolveTarget(ctx context.Context, namespace string, t Target) (*Resolved, error) {
	if t.Resource == "pods" {
		p, err := c.GetPod(ctx, namespace, t.Name)
		if err != nil {
			return nil, err
		}
		return &Resolved{Pod: p}, nil
	}
	group := "/apis/apps/v1"
	if t.Resource == "services" {
		group = "/api/v1"
	}
	var obj struct {
		Spec struct {
			ClusterIP string      `json:"clusterIP"`
			Selector  rawSelector `json:"selector"`
			Ports     []struct {
				Name       string `json:"name"`
				Port       int32  `json:"port"`
				TargetPort any    `json:"targetPort"`
			} `json:"ports"`
		} `json:"spec"`
	}
	path := group + "/namespaces/" + url.PathEscape(namespace) + "/" + t.Resource + "/" + url.PathEscape(t.Name)
	if err := c.getJSON(ctx, path, &obj); err != nil {
		return nil, err
	}
	sel, err := obj.Spec.Selector.String(t.Resource == "services")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	if sel == "" {
		return nil, fmt.Errorf("%s has no selector: it names no pods", t)
	}
	var list kube.PodList
	q := url.Values{"labelSelector": {sel}}
	if err := c.getJSON(ctx, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/pods?"+q.Encode(), &list); err != nil {
		return nil, fmt.Errorf("list the pods of %s: %w", t, err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("no pods found for %s (selector %s)", t, sel)
	}
	pods := make([]*kube.Pod, len(list.Items))
	for i := range list.Items {
		pods[i] = &list.Items[i]
	}
	sort.SliceStable(pods, func(i, j int) bool { return moreActive(pods[i], pods[j]) })
	r := &Resolved{Pod: pods[0], Selector: sel}
	if t.Resource == "services" {
		svc := &Service{Name: t.Name, Headless: obj.Spec.ClusterIP == "None"}
		for _, p := range obj.Spec.Ports {
			tp := ""
			switch v := p.TargetPort.(type) {
			case string:
				tp = v
			case float64:
				tp = fmt.Sprint(int64(v))
			}
			svc.Ports = append(svc.Ports, ServicePort{Name: p.Name, Port: p.Port, TargetPort: tp})
		}
		r.Service = svc
	}
	return r, nil
}

// moreActive orders pods as kubectl's choice of "the first pod" does (the
// reverse of its ActivePods order): assigned before unassigned, Running
// before Unknown before Pending, ready before not, more restarts last,
// newer first.
func moreActive(a, b *kube.Pod) bool {
	if (a.Spec.NodeName != "") != (b.Spec.NodeName != "") {
		return a.Spec.NodeName != ""
	}
	rank := map[string]int{"Pending": 0, "Unknown": 1, "Running": 2}
	if ra, rb := rank[a.Status.Phase], rank[b.Status.Phase]; ra != rb {
		return ra > rb
	}
	if ra, rb := ready(a), ready(b); ra != rb {
		return ra
	}
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return ra < rb
	}
	return a.CreationTimestamp > b.CreationTimestamp // RFC 3339 in UTC sorts as time
}

func ready(p *kube.Pod) bool {
	return slices.ContainsFunc(p.Status.Conditions, func(c kube.PodCondition) bool { return c.Type == "Ready" && c.Status == "True" })
}

func restarts(p *kube.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}

// rawSelector is a Service's selector (a map) or a workload's
// LabelSelector (matchLabels and matchExpressions), kept raw until known.
type rawSelector json.RawMessage

func (s *rawSelector) UnmarshalJSON(b []byte) error {
	*s = append((*s)[:0], b...)
	return nil
}

// String renders the selector in the label selector syntax of a list's
// labelSelector parameter, keys sorted.
func (s rawSelector) String(isMap bool) (string, error) {
	if len(s) == 0 || string(s) == "null" {
		return "", nil
	}
	var labels map[string]string
	var exprs []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	}
	if isMap {
		if err := json.Unmarshal(s, &labels); err != nil {
			return "", fmt.Errorf("selector: %w", err)
		}
	} else {
		var ls struct {
			MatchLabels      map[string]string `json:"matchLabels"`
			MatchExpressions json.RawMessage   `json:"matchExpressions"`
		}
		if err := json.Unmarshal(s, &ls); err != nil {
			return "", fmt.Errorf("selector: %w", err)
		}
		labels = ls.MatchLabels
		if len(ls.MatchExpressions) > 0 {
			if err := json.Unmarshal(ls.MatchExpressions, &exprs); err != nil {
				return "", fmt.Errorf("selector: %w", err)
			}
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	for _, e := range exprs {
		switch e.Operator {
		case "In":
			parts = append(parts, e.Key+" in ("+strings.Join(e.Values, ",")+")")
		case "NotIn":
			parts = append(parts, e.Key+" notin ("+strings.Join(e.Values, ",")+")")
		case "Exists":
			parts = append(parts, e.Key)
		case "DoesNotExist":
			parts = append(parts, "!"+e.Key)
		default:
			return "", fmt.Errorf("selector: unknown operator %q", e.Operator)
		}
	}
	return strings.Join(parts, ","), nil
}

// ForwardedPorts turns kubectl's port arguments ([LOCAL:]REMOTE, REMOTE a
// number or a port name) into ports of the resolved pod, as kubectl does:
// for a Service, REMOTE is a service port (by number or name) mapped to
// its targetPort (a number, or a container port's name looked up in the
// pod; a headless Service's ports are the pods'); for a pod, a name is one
// of its container ports. When LOCAL is not given it is the number REMOTE
// named, before the mapping (svc/web 8080 listens on 8080).
func (r *Resolved) ForwardedPorts(specs []string) ([]ForwardedPort, error) {
	var out []ForwardedPort
	for _, spec := range specs {
		local, remote, hasLocal := strings.Cut(spec, ":")
		if !hasLocal {
			local, remote = "", spec
		}
		num, isNum := portNumber(remote)
		if !isNum {
			var err error
			if r.Service != nil {
				num, err = r.Service.portByName(remote)
			} else {
				num, err = containerPort(r.Pod, remote)
			}
			if err != nil {
				return nil, err
			}
		}
		target := num
		if r.Service != nil {
			var err error
			if target, err = r.Service.targetPort(r.Pod, num); err != nil {
				return nil, err
			}
		}
		l := num
		if hasLocal {
			if local == "" {
				l = 0
			} else if n, ok := portNumber(local); ok {
				l = n
			} else {
				return nil, fmt.Errorf("error parsing local port '%s'", local)
			}
		}
		out = append(out, ForwardedPort{Local: uint16(l), Remote: uint16(target)})
	}
	return out, nil
}

func portNumber(s string) (int32, bool) {
	var n int32
	if s == "" || len(s) > 5 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + c - '0'
	}
	return n, n > 0 && n <= 65535
}

// portByName is the service port named name (kubectl's words if none).
func (s *Service) portByName(name string) (int32, error) {
	for _, p := range s.Ports {
		if p.Name == name {
			return p.Port, nil
		}
	}
	return 0, fmt.Errorf("Service '%s' does not have a named port '%s'", s.Name, name)
}

// targetPort maps service port port to the pod's port.
func (s *Service) targetPort(pod *kube.Pod, port int32) (int32, error) {
	for _, p := range s.Ports {
		if p.Port != port {
			continue
		}
		if s.Headless {
			return port, nil
		}
		if p.TargetPort == "" || p.TargetPort == "0" {
			return p.Port, nil
		}
		if n, ok := portNumber(p.TargetPort); ok {
			return n, nil
		}
		return containerPort(pod, p.TargetPort)
	}
	return 0, fmt.Errorf("Service %s does not have a service port %d", s.Name, port)
}

// containerPort is the pod's container port named name (kubectl's words
// if none).
func containerPort(pod *kube.Pod, name string) (int32, error) {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("Pod '%s' does not have a named port '%s'", pod.Name, name)
}
