package serve

import (
	"crypto/sha256"
	"maps"
	"net/http"
	"slices"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/table"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/serve/cluster"
)

// A Service's endpoints, as the endpoints and endpoint slice controllers
// would keep them, derived at each read from the Service and its pods:
// kubectl describe service lists them (from Endpoints up to 1.30, from
// EndpointSlices since 1.31), and kubectl get endpoints and get
// endpointslices show them. Read only; a Service without a selector has
// none.

const (
	labelServiceName = "kubernetes.io/service-name"
	labelManagedBy   = "endpointslice.kubernetes.io/managed-by"
	sliceController  = "endpointslice-controller.k8s.io"
)

// serviceEndpoints lists the Services of namespace ns (all when "") with a
// selector, or only the one named name, each with the pods behind it, and
// the list's resourceVersion.
func (a *api) serviceEndpoints(ns, name string) ([]*kube.Service, [][]kube.ServiceEndpoint, string) {
	svcs, rv := a.cluster.List(cluster.Services, ns, func(o cluster.Object) bool {
		svc := o.(*kube.Service)
		return len(svc.Spec.Selector) > 0 && (name == "" || svc.Name == name)
	})
	if len(svcs) == 0 {
		return nil, nil, rv
	}
	podObjs, _ := a.cluster.List(cluster.Pods, ns, nil)
	pods := make([]*kube.Pod, len(podObjs))
	for i, o := range podObjs {
		pods[i] = o.(*kube.Pod)
	}
	out := make([]*kube.Service, len(svcs))
	eps := make([][]kube.ServiceEndpoint, len(svcs))
	for i, o := range svcs {
		out[i] = o.(*kube.Service)
		eps[i] = kube.ServiceEndpoints(out[i], pods)
	}
	return out, eps, rv
}

// endpointsOf is svc's Endpoints: one subset per set of ports, ready pods
// as addresses, the others as not-ready addresses.
func endpointsOf(svc *kube.Service, eps []kube.ServiceEndpoint, rv string) kube.Endpoints {
	e := kube.Endpoints{
		TypeMeta: kube.TypeMeta{Kind: "Endpoints", APIVersion: "v1"},
		ObjectMeta: kube.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, UID: kube.StableUID("endpoints/" + svc.Namespace + "/" + svc.Name),
			ResourceVersion: rv, CreationTimestamp: svc.CreationTimestamp, Labels: maps.Clone(svc.Labels)},
	}
	for _, g := range kube.GroupByPorts(svc, eps) {
		sub := kube.EndpointSubset{Ports: g.Ports}
		for _, ep := range g.Endpoints {
			addr := kube.EndpointAddress{IP: ep.Pod.Status.PodIP, NodeName: ep.Pod.Spec.NodeName, TargetRef: podRef(ep.Pod)}
			if ep.Ready {
				sub.Addresses = append(sub.Addresses, addr)
			} else {
				sub.NotReadyAddresses = append(sub.NotReadyAddresses, addr)
			}
		}
		e.Subsets = append(e.Subsets, sub)
	}
	return e
}

func podRef(p *kube.Pod) *kube.ObjectReference {
	return &kube.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}
}

// slicesOf is svc's EndpointSlices: one per set of ports, named after the
// Service with a stable suffix; a Service with no pods has one empty
// slice, as the controller keeps.
func slicesOf(svc *kube.Service, eps []kube.ServiceEndpoint, rv string) []kube.EndpointSlice {
	groups := kube.GroupByPorts(svc, eps)
	if len(groups) == 0 {
		groups = []kube.PortGroup{{}}
	}
	yes, no := true, false
	out := make([]kube.EndpointSlice, len(groups))
	for i, g := range groups {
		var ports []kube.SlicePort
		for _, p := range g.Ports {
			ports = append(ports, kube.SlicePort{Name: p.Name, Port: &p.Port, Protocol: p.Protocol})
		}
		id := "endpointslice/" + svc.Namespace + "/" + svc.Name + "/" + g.Key
		h := sha256.Sum256([]byte(id))
		labels := maps.Clone(svc.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[labelServiceName], labels[labelManagedBy] = svc.Name, sliceController
		out[i] = kube.EndpointSlice{
			TypeMeta: kube.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
			ObjectMeta: kube.ObjectMeta{Name: svc.Name + "-" + sliceSuffix(h[:]), GenerateName: svc.Name + "-", Namespace: svc.Namespace,
				UID: kube.StableUID(id), ResourceVersion: rv, CreationTimestamp: svc.CreationTimestamp, Labels: labels,
				OwnerReferences: []kube.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: &yes, BlockOwnerDeletion: &yes}}},
			AddressType: "IPv4", Endpoints: []kube.SliceEndpoint{}, Ports: ports,
		}
		for _, ep := range g.Endpoints {
			ready := ep.Ready
			out[i].Endpoints = append(out[i].Endpoints, kube.SliceEndpoint{
				Addresses:  []string{ep.Pod.Status.PodIP},
				Conditions: kube.EndpointConditions{Ready: &ready, Serving: &ready, Terminating: &no},
				TargetRef:  podRef(ep.Pod), NodeName: ep.Pod.Spec.NodeName,
			})
		}
	}
	return out
}

// sliceSuffix is five characters of the API server's generateName
// alphabet, from h.
func sliceSuffix(h []byte) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	for i := range b {
		b[i] = alphabet[int(h[i])%len(alphabet)]
	}
	return string(b)
}

func (a *api) getEndpoints(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	svcs, eps, rv := a.serviceEndpoints(r.PathValue("namespace"), r.PathValue("name"))
	if len(svcs) == 0 {
		return nil, notFound("endpoints", r.PathValue("name"))
	}
	e := endpointsOf(svcs[0], eps[0], rv)
	if neg.out == outTable {
		return a.endpointsTable(r, neg, []kube.Endpoints{e})
	}
	return e, nil
}

func (a *api) listEndpoints(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	if isWatch(r.URL.Query()) {
		return nil, badRequest("watch is not supported for endpoints by porthole")
	}
	sel, aerr := parseSelectors(r.URL.Query(), metaFields)
	if aerr != nil {
		return nil, aerr
	}
	svcs, eps, rv := a.serviceEndpoints(r.PathValue("namespace"), "")
	items := []kube.Endpoints{}
	for i, svc := range svcs {
		e := endpointsOf(svc, eps[i], rv)
		if sel.labels.Matches(kube.Label(e.Labels)) && sel.fields.Matches(objectField(&e.ObjectMeta)) {
			items = append(items, e)
		}
	}
	if neg.out == outTable {
		return a.endpointsTable(r, neg, items)
	}
	for i := range items {
		items[i].TypeMeta = kube.TypeMeta{}
	}
	return kube.EndpointsList{TypeMeta: kube.TypeMeta{Kind: "EndpointsList", APIVersion: "v1"}, ListMeta: kube.ListMeta{ResourceVersion: rv}, Items: items}, nil
}

func (a *api) endpointsTable(r *http.Request, neg negotiation, items []kube.Endpoints) (any, *status.HTTPError) {
	return syntheticTable(r, neg, a.now(), items, table.EndpointsColumns, table.EndpointsRow,
		func(e *kube.Endpoints) (kube.TypeMeta, kube.ObjectMeta) { return e.TypeMeta, e.ObjectMeta })
}

// endpointSlices is every slice of namespace ns (all when "") that sel
// selects, and the list's resourceVersion.
func (a *api) endpointSlices(ns string, sel selectors) ([]kube.EndpointSlice, string) {
	svcs, eps, rv := a.serviceEndpoints(ns, "")
	out := []kube.EndpointSlice{}
	for i, svc := range svcs {
		for _, s := range slicesOf(svc, eps[i], rv) {
			if sel.labels.Matches(kube.Label(s.Labels)) && sel.fields.Matches(objectField(&s.ObjectMeta)) {
				out = append(out, s)
			}
		}
	}
	return out, rv
}

func (a *api) listEndpointSlices(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	if isWatch(r.URL.Query()) {
		return nil, badRequest("watch is not supported for endpointslices by porthole")
	}
	sel, aerr := parseSelectors(r.URL.Query(), metaFields)
	if aerr != nil {
		return nil, aerr
	}
	items, rv := a.endpointSlices(r.PathValue("namespace"), sel)
	if neg.out == outTable {
		return a.endpointSliceTable(r, neg, items)
	}
	for i := range items {
		items[i].TypeMeta = kube.TypeMeta{}
	}
	return kube.EndpointSliceList{TypeMeta: kube.TypeMeta{Kind: "EndpointSliceList", APIVersion: "discovery.k8s.io/v1"},
		ListMeta: kube.ListMeta{ResourceVersion: rv}, Items: items}, nil
}

func (a *api) getEndpointSlice(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	items, _ := a.endpointSlices(r.PathValue("namespace"), selectors{})
	if i := slices.IndexFunc(items, func(s kube.EndpointSlice) bool { return s.Name == r.PathValue("name") }); i >= 0 {
		if neg.out == outTable {
			return a.endpointSliceTable(r, neg, items[i:i+1])
		}
		return items[i], nil
	}
	e := notFound("endpointslices.discovery.k8s.io", r.PathValue("name"))
	e.Status.Details.Kind = "endpointslices"
	e.Status.Details.Group = "discovery.k8s.io"
	return nil, e
}

func (a *api) endpointSliceTable(r *http.Request, neg negotiation, items []kube.EndpointSlice) (any, *status.HTTPError) {
	return syntheticTable(r, neg, a.now(), items, table.EndpointSliceColumns, table.EndpointSliceRow,
		func(s *kube.EndpointSlice) (kube.TypeMeta, kube.ObjectMeta) { return s.TypeMeta, s.ObjectMeta })
}
