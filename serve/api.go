package serve

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/table"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/status"
)

// podSource is what the API reads pods from: the runtime's live copies of
// the pods named by refs.
type podSource interface {
	Pod(ctx context.Context, namespace, name string) (*kube.Pod, error)
}

// api serves the read-only part of the Kubernetes API that kubectl needs
// around streaming: version, discovery, pods and namespaces. It is safe
// for concurrent use; it holds no mutable state.
type api struct {
	pods    podSource
	refs    []node.PodRef // every pod, sorted by namespace then name
	version kube.VersionInfo
	started time.Time // creation time of the namespaces
	now     func() time.Time
	log     *slog.Logger
}

func newAPI(pods podSource, refs []node.PodRef, version kube.VersionInfo, started time.Time, now func() time.Time, log *slog.Logger) *api {
	refs = slices.Clone(refs)
	slices.SortFunc(refs, func(a, b node.PodRef) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return &api{pods: pods, refs: refs, version: version, started: started, now: now, log: log}
}

// register adds the API's routes to mux. Every route answers GET (and
// HEAD); other methods get the API server's 405 Status.
func (a *api) register(mux *http.ServeMux) {
	routes := map[string]func(*http.Request) (any, *status.HTTPError){
		"/version":                            a.getVersion,
		"/api":                                a.getAPIVersions,
		"/apis":                               a.getAPIGroups,
		"/api/v1":                             a.getResources,
		"/api/v1/namespaces":                  a.listNamespaces,
		"/api/v1/namespaces/{namespace}":      a.getNamespace,
		"/api/v1/pods":                        a.listPods,
		"/api/v1/namespaces/{namespace}/pods": a.listPods,
		"/api/v1/namespaces/{namespace}/pods/{name}":        a.getPod,
		"/api/v1/namespaces/{namespace}/pods/{name}/status": a.getPod,
	}
	for pattern, h := range routes {
		mux.Handle(pattern, a.handler(h))
	}
	mux.HandleFunc("/api/v1/namespaces/{namespace}/pods/{name}/log", a.serveLog)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.log, errNoRoute)
	}))
}

// handler adapts a getter to HTTP: method check, JSON or Status answer.
func (a *api) handler(get func(*http.Request) (any, *status.HTTPError)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, r, a.log, errMethod)
			return
		}
		v, err := get(r)
		code := http.StatusOK
		if err != nil {
			code = int(err.Status.Code)
			writeError(w, r, a.log, err)
		} else {
			writeJSON(w, code, v)
		}
		a.log.Debug("api request", "method", r.Method, "uri", r.URL.RequestURI(), "accept", r.Header.Get("Accept"), "code", code)
	})
}

func (a *api) getVersion(*http.Request) (any, *status.HTTPError) { return a.version, nil }

func (a *api) getAPIVersions(r *http.Request) (any, *status.HTTPError) {
	if _, ok := negotiate(r.Header.Get("Accept"), false); !ok {
		return nil, notAcceptable()
	}
	return kube.APIVersions{
		TypeMeta:                   kube.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{"v1"},
		ServerAddressByClientCIDRs: []kube.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
	}, nil
}

func (a *api) getAPIGroups(r *http.Request) (any, *status.HTTPError) {
	if _, ok := negotiate(r.Header.Get("Accept"), false); !ok {
		return nil, notAcceptable()
	}
	return kube.APIGroupList{TypeMeta: kube.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []kube.APIGroup{}}, nil
}

// coreResources is the discovery document of /api/v1: what porthole serves
// and with which verbs, so kubectl neither offers nor tries the rest.
var coreResources = []kube.APIResource{
	{Name: "namespaces", SingularName: "namespace", Kind: "Namespace", Verbs: []string{"get", "list"}, ShortNames: []string{"ns"}},
	{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "list"}, ShortNames: []string{"po"}, Categories: []string{"all"}},
	{Name: "pods/attach", Namespaced: true, Kind: "PodAttachOptions", Verbs: []string{"create", "get"}},
	{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
	{Name: "pods/portforward", Namespaced: true, Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}},
	{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}},
}

func (a *api) getResources(r *http.Request) (any, *status.HTTPError) {
	return kube.APIResourceList{TypeMeta: kube.TypeMeta{Kind: "APIResourceList"}, GroupVersion: "v1", APIResources: coreResources}, nil
}

// getPod serves one pod, as JSON or as a one-row Table.
func (a *api) getPod(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), !strings.HasSuffix(r.URL.Path, "/status"))
	if !ok {
		return nil, notAcceptable()
	}
	p, err := a.pods.Pod(r.Context(), r.PathValue("namespace"), r.PathValue("name"))
	if errors.Is(err, node.ErrNotFound) {
		return nil, notFound("pods", r.PathValue("name"))
	}
	if err != nil {
		return nil, internalError(fmt.Errorf("get pod: %w", err))
	}
	if neg.out == outTable {
		return a.podTable(r, neg, []kube.Pod{*p}, p.ResourceVersion)
	}
	return p, nil
}

// listPods serves the pods of one namespace, or of all with /api/v1/pods,
// filtered by labelSelector and fieldSelector.
func (a *api) listPods(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	sel, aerr := parseSelectors(r.URL.Query(), kube.PodFields)
	if aerr != nil {
		return nil, aerr
	}
	items, rv, aerr := a.selectPods(r.Context(), r.PathValue("namespace"), sel)
	if aerr != nil {
		return nil, aerr
	}
	if neg.out == outTable {
		return a.podTable(r, neg, items, rv)
	}
	for i := range items {
		items[i].TypeMeta = kube.TypeMeta{} // list items carry no kind, as the API server encodes them
	}
	return kube.PodList{TypeMeta: kube.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: kube.ListMeta{ResourceVersion: rv}, Items: items}, nil
}

// selectors are a list request's label and field selectors.
type selectors struct {
	labels, fields kube.Selector
}

// parseSelectors reads labelSelector and fieldSelector, refusing field
// names outside known, and watch, which porthole does not serve.
func parseSelectors(q url.Values, known []string) (selectors, *status.HTTPError) {
	if w := q.Get("watch"); w == "true" || w == "1" {
		return selectors{}, badRequest("watch is not supported by porthole")
	}
	labels, err := kube.ParseLabelSelector(q.Get("labelSelector"))
	if err != nil {
		return selectors{}, badRequest(err.Error())
	}
	fields, err := kube.ParseFieldSelector(q.Get("fieldSelector"))
	if err != nil {
		return selectors{}, badRequest(err.Error())
	}
	for _, k := range fields.Keys() {
		if !slices.Contains(known, k) {
			return selectors{}, badRequest(fmt.Sprintf("field label not supported: %s", k))
		}
	}
	return selectors{labels: labels, fields: fields}, nil
}

// selectPods returns the live pods of namespace ns (all when "") that sel
// matches, and the list's resourceVersion: the highest of theirs, or "1".
func (a *api) selectPods(ctx context.Context, ns string, sel selectors) ([]kube.Pod, string, *status.HTTPError) {
	items := []kube.Pod{}
	rv := uint64(1)
	for _, ref := range a.refs {
		if ns != "" && ref.Namespace != ns {
			continue
		}
		p, err := a.pods.Pod(ctx, ref.Namespace, ref.Name)
		if err != nil {
			return nil, "", internalError(fmt.Errorf("list pods: %w", err))
		}
		if !sel.labels.Matches(kube.Label(p.Labels)) || !sel.fields.Matches(kube.PodField(p)) {
			continue
		}
		if v, err := strconv.ParseUint(p.ResourceVersion, 10, 64); err == nil && v > rv {
			rv = v
		}
		items = append(items, *p)
	}
	return items, strconv.FormatUint(rv, 10), nil
}

// podTable renders pods as the API server's pod Table.
func (a *api) podTable(r *http.Request, neg negotiation, pods []kube.Pod, rv string) (any, *status.HTTPError) {
	now := a.now()
	rows := make([]kube.TableRow, len(pods))
	for i := range pods {
		obj, err := rowObject(r, neg, &pods[i], pods[i].TypeMeta, pods[i].ObjectMeta)
		if err != nil {
			return nil, err
		}
		rows[i] = kube.TableRow{Cells: table.PodRow(&pods[i], now), Conditions: table.PodRowConditions(&pods[i]), Object: obj}
	}
	return kube.Table{TypeMeta: kube.TypeMeta{Kind: "Table", APIVersion: neg.tableVersion},
		ListMeta: kube.ListMeta{ResourceVersion: rv}, ColumnDefinitions: table.PodColumns, Rows: rows}, nil
}

// rowObject is what a Table row carries, per the includeObject parameter:
// the object's metadata (default), the whole object, or nothing.
func rowObject(r *http.Request, neg negotiation, full any, tm kube.TypeMeta, om kube.ObjectMeta) (any, *status.HTTPError) {
	switch inc := r.URL.Query().Get("includeObject"); inc {
	case "", "Metadata":
		return kube.PartialObjectMetadata{TypeMeta: kube.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: neg.tableVersion}, ObjectMeta: om}, nil
	case "Object":
		return full, nil
	case "None":
		return nil, nil
	default:
		return nil, badRequest(fmt.Sprintf("unrecognized includeObject value: %q", inc))
	}
}

// namespaces returns the namespaces that exist: default, kube-system and
// every namespace that holds a pod, sorted.
func (a *api) namespaces() []kube.Namespace {
	names := []string{"default", "kube-system"}
	for _, ref := range a.refs {
		names = append(names, ref.Namespace)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	out := make([]kube.Namespace, len(names))
	for i, n := range names {
		out[i] = a.namespace(n)
	}
	return out
}

func (a *api) namespace(name string) kube.Namespace {
	return kube.Namespace{
		TypeMeta: kube.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
		ObjectMeta: kube.ObjectMeta{
			Name:              name,
			UID:               stableUID("namespace/" + name),
			ResourceVersion:   "1",
			CreationTimestamp: a.started.UTC().Format(time.RFC3339),
			Labels:            map[string]string{"kubernetes.io/metadata.name": name},
		},
		Spec:   kube.NamespaceSpec{Finalizers: []string{"kubernetes"}},
		Status: kube.NamespaceStatus{Phase: "Active"},
	}
}

func (a *api) listNamespaces(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	sel, aerr := parseSelectors(r.URL.Query(), []string{"metadata.name", "status.phase"})
	if aerr != nil {
		return nil, aerr
	}
	items := []kube.Namespace{}
	for _, ns := range a.namespaces() {
		if sel.labels.Matches(kube.Label(ns.Labels)) && sel.fields.Matches(namespaceField(&ns)) {
			items = append(items, ns)
		}
	}
	if neg.out == outTable {
		return a.namespaceTable(r, neg, items)
	}
	for i := range items {
		items[i].TypeMeta = kube.TypeMeta{}
	}
	return kube.NamespaceList{TypeMeta: kube.TypeMeta{Kind: "NamespaceList", APIVersion: "v1"},
		ListMeta: kube.ListMeta{ResourceVersion: "1"}, Items: items}, nil
}

// namespaceField looks up the selectable fields of a namespace.
func namespaceField(ns *kube.Namespace) func(string) (string, bool) {
	return func(k string) (string, bool) {
		switch k {
		case "metadata.name":
			return ns.Name, true
		case "status.phase":
			return ns.Status.Phase, true
		}
		return "", false
	}
}

func (a *api) getNamespace(r *http.Request) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	name := r.PathValue("namespace")
	for _, ns := range a.namespaces() {
		if ns.Name != name {
			continue
		}
		if neg.out == outTable {
			return a.namespaceTable(r, neg, []kube.Namespace{ns})
		}
		return ns, nil
	}
	return nil, notFound("namespaces", name)
}

func (a *api) namespaceTable(r *http.Request, neg negotiation, items []kube.Namespace) (any, *status.HTTPError) {
	now := a.now()
	rows := make([]kube.TableRow, len(items))
	for i := range items {
		obj, err := rowObject(r, neg, &items[i], items[i].TypeMeta, items[i].ObjectMeta)
		if err != nil {
			return nil, err
		}
		rows[i] = kube.TableRow{Cells: table.NamespaceRow(&items[i], now), Object: obj}
	}
	return kube.Table{TypeMeta: kube.TypeMeta{Kind: "Table", APIVersion: neg.tableVersion},
		ListMeta: kube.ListMeta{ResourceVersion: "1"}, ColumnDefinitions: table.NamespaceColumns, Rows: rows}, nil
}

// stableUID derives a UUID-shaped identifier from s, so objects porthole
// synthesises keep their UID across requests.
func stableUID(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
