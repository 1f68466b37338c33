package serve

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/serve/cluster"
)

// api serves the part of the Kubernetes API that kubectl needs around
// streaming and for a first day's workloads: version, discovery, the
// OpenAPI documents kubectl apply reads, the node (get, list, watch),
// namespaces, ConfigMaps, pods, Services and Deployments (get, list,
// watch, create, patch, replace, delete), ReplicaSets (get, list, watch, delete), a
// Deployment's scale, and events, all from the cluster.
type api struct {
	pods    node.Runtime // the runtime, for pod logs
	cluster *cluster.Cluster
	version kube.VersionInfo
	machine machine   // the node's facts
	started time.Time // creation time of the node
	now     func() time.Time
	log     *slog.Logger
	openAPI *openAPI
}

func newAPI(rt node.Runtime, c *cluster.Cluster, version kube.VersionInfo, started time.Time, now func() time.Time, log *slog.Logger) *api {
	return &api{pods: rt, cluster: c, version: version, machine: readMachine(version.GitVersion), started: started, now: now, log: log,
		openAPI: newOpenAPI(version.GitVersion)}
}

// apiHandler answers one request: a value to write as JSON, an error, or
// (nil, nil) when it wrote the response itself (a watch).
type apiHandler func(http.ResponseWriter, *http.Request) (any, *status.HTTPError)

// register adds the API's routes to mux. Routes answer GET (and HEAD)
// unless listed with other methods; other methods get the API server's
// 405 Status.
func (a *api) register(mux *http.ServeMux) {
	get := func(h func(*http.Request) (any, *status.HTTPError)) map[string]apiHandler {
		return map[string]apiHandler{http.MethodGet: func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) { return h(r) }}
	}
	routes := map[string]map[string]apiHandler{
		"/version":                   get(a.getVersion),
		"/openapi/v2":                {http.MethodGet: a.openAPI.getV2},
		"/openapi/v3":                get(a.openAPI.getRoot),
		"/openapi/v3/{gv...}":        get(a.openAPI.getDoc),
		"/api":                       get(a.getAPIVersions),
		"/apis":                      get(a.getAPIGroups),
		"/apis/apps":                 get(getGroup(appsGroup)),
		"/api/v1":                    get(a.getResources),
		"/apis/apps/v1":              get(a.getAppsResources),
		"/apis/discovery.k8s.io":     get(getGroup(discoveryGroup)),
		"/apis/discovery.k8s.io/v1":  get(a.getDiscoveryResources),
		"/apis/batch":                get(getGroup(batchGroup)),
		"/apis/batch/v1":             get(resourceList("batch/v1", batchResources)),
		"/apis/networking.k8s.io":    get(getGroup(networkingGroup)),
		"/apis/networking.k8s.io/v1": get(resourceList("networking.k8s.io/v1", networkingResources)),
		"/api/v1/persistentvolumes": {http.MethodGet: func(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
			return a.list(w, r, persistentVolumeKind)
		}},
		"/api/v1/persistentvolumes/{name}": get(func(r *http.Request) (any, *status.HTTPError) { return a.getObject(r, persistentVolumeKind) }),
		"/api/v1/namespaces": {
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
				return a.list(w, r, namespaceKind)
			},
			http.MethodPost: a.createNamespace,
		},
		"/api/v1/namespaces/{name}": {
			http.MethodGet: func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
				return a.getObject(r, namespaceKind)
			},
			http.MethodPatch:  a.patchNamespace,
			http.MethodPut:    a.updateNamespace,
			http.MethodDelete: a.deleteObject(namespaceKind),
		},
		"/api/v1/nodes":               {http.MethodGet: a.listNodes},
		"/api/v1/nodes/{name}":        get(a.getNode),
		"/api/v1/nodes/{name}/status": get(a.getNode),
		"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}": get(a.getNodeLease),
		"/api/v1/endpoints":                                                      deprecated(get(a.listEndpoints), endpointsDeprecated),
		"/api/v1/namespaces/{namespace}/endpoints":                               deprecated(get(a.listEndpoints), endpointsDeprecated),
		"/api/v1/namespaces/{namespace}/endpoints/{name}":                        deprecated(get(a.getEndpoints), endpointsDeprecated),
		"/apis/discovery.k8s.io/v1/endpointslices":                               get(a.listEndpointSlices),
		"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices":        get(a.listEndpointSlices),
		"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}": get(a.getEndpointSlice),
		"/api/v1/namespaces/{namespace}/pods/{name}": {
			http.MethodGet:    func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) { return a.getObject(r, podKind) },
			http.MethodPatch:  a.patchPod,
			http.MethodPut:    a.updatePod,
			http.MethodDelete: a.deletePod,
		},
		"/api/v1/namespaces/{namespace}/pods/{name}/status":              get(func(r *http.Request) (any, *status.HTTPError) { return a.getObject(r, podKind) }),
		"/api/v1/namespaces/{namespace}/services/{name}/status":          get(func(r *http.Request) (any, *status.HTTPError) { return a.getObject(r, serviceKind) }),
		"/api/v1/namespaces/{name}/status":                               get(func(r *http.Request) (any, *status.HTTPError) { return a.getObject(r, namespaceKind) }),
		"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status": get(func(r *http.Request) (any, *status.HTTPError) { return a.getObject(r, deploymentKind) }),
		"/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status": get(func(r *http.Request) (any, *status.HTTPError) { return a.getObject(r, replicaSetKind) }),
		"/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers": {
			http.MethodGet:   func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) { return a.getObject(r, podKind) },
			http.MethodPatch: a.patchEphemeralContainers,
			http.MethodPut:   a.updateEphemeralContainers,
		},
		"/apis/apps/v1/namespaces/{namespace}/deployments/{name}": {
			http.MethodGet: func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
				return a.getObject(r, deploymentKind)
			},
			http.MethodPatch:  a.patchDeployment,
			http.MethodPut:    a.updateDeployment,
			http.MethodDelete: a.deleteObject(deploymentKind),
		},
		"/apis/apps/v1/namespaces/{namespace}/replicasets/{name}": {
			http.MethodGet: func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
				return a.getObject(r, replicaSetKind)
			},
			http.MethodDelete: a.deleteObject(replicaSetKind),
		},
		"/api/v1/namespaces/{namespace}/services/{name}": {
			http.MethodGet: func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
				return a.getObject(r, serviceKind)
			},
			http.MethodPatch:  a.patchService,
			http.MethodPut:    a.updateService,
			http.MethodDelete: a.deleteObject(serviceKind),
		},
		"/api/v1/namespaces/{namespace}/configmaps/{name}": {
			http.MethodGet: func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
				return a.getObject(r, configMapKind)
			},
			http.MethodPatch:  a.patchConfigMap,
			http.MethodPut:    a.updateConfigMap,
			http.MethodDelete: a.deleteObject(configMapKind),
		},
		"/api/v1/namespaces/{namespace}/secrets/{name}": {
			http.MethodGet: func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
				return a.getObject(r, secretKind)
			},
			http.MethodPatch:  a.patchSecret,
			http.MethodPut:    a.updateSecret,
			http.MethodDelete: a.deleteObject(secretKind),
		},
		"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale": {
			http.MethodGet:   func(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) { return a.getScale(r) },
			http.MethodPatch: a.patchScale,
			http.MethodPut:   a.putScale,
		},
	}
	for _, k := range allKinds {
		list := map[string]apiHandler{http.MethodGet: func(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) { return a.list(w, r, k) }}
		routes[k.prefix+"/"+string(k.resource)] = list
		routes[k.prefix+"/namespaces/{namespace}/"+string(k.resource)] = list
		if _, ok := routes[k.prefix+"/namespaces/{namespace}/"+string(k.resource)+"/{name}"]; !ok {
			routes[k.prefix+"/namespaces/{namespace}/"+string(k.resource)+"/{name}"] = get(func(r *http.Request) (any, *status.HTTPError) { return a.getObject(r, k) })
		}
	}
	for path, create := range map[string]apiHandler{
		"/api/v1/namespaces/{namespace}/pods":              a.createPod,
		"/api/v1/namespaces/{namespace}/services":          a.createService,
		"/api/v1/namespaces/{namespace}/configmaps":        a.createConfigMap,
		"/api/v1/namespaces/{namespace}/secrets":           a.createSecret,
		"/apis/apps/v1/namespaces/{namespace}/deployments": a.createDeployment,
	} {
		routes[path] = maps.Clone(routes[path]) // not the all-namespaces list's
		routes[path][http.MethodPost] = create
	}
	for _, k := range []*kind{podKind, serviceKind, configMapKind, secretKind, deploymentKind, replicaSetKind} {
		path := k.prefix + "/namespaces/{namespace}/" + string(k.resource)
		routes[path] = maps.Clone(routes[path])
		routes[path][http.MethodDelete] = a.deleteCollection(k)
	}
	// The discovery documents answer with a trailing slash too, as the
	// API server's: the official Python client asks for /version/, /api/
	// and /api/v1/.
	for _, p := range []string{"/version", "/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1", "/apis/discovery.k8s.io", "/apis/discovery.k8s.io/v1",
		"/apis/batch", "/apis/batch/v1", "/apis/networking.k8s.io", "/apis/networking.k8s.io/v1"} {
		routes[p+"/{$}"] = routes[p]
	}
	for pattern, methods := range routes {
		mux.Handle(pattern, a.handler(methods))
	}
	mux.HandleFunc("/api/v1/namespaces/{namespace}/pods/{name}/log", a.serveLog)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.log, errNoRoute)
	}))
}

// endpointsDeprecated is the API server's warning on every request of
// v1 Endpoints, from the version serve reports on (1.33).
const endpointsDeprecated = "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"

// deprecated adds warning to each answer of methods, as the API server
// warns of a deprecated kind.
func deprecated(methods map[string]apiHandler, warning string) map[string]apiHandler {
	out := make(map[string]apiHandler, len(methods))
	for m, h := range methods {
		out[m] = func(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
			(&warner{w: w}).add(warning)
			return h(w, r)
		}
	}
	return out
}

// handler adapts handlers by method to HTTP: method check, JSON or Status
// answer.
func (a *api) handler(methods map[string]apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		if m == http.MethodHead {
			m = http.MethodGet
		}
		h, ok := methods[m]
		if !ok {
			writeError(w, r, a.log, errMethod)
			return
		}
		v, err := h(w, r)
		code := http.StatusOK
		switch {
		case err != nil:
			code = int(err.Status.Code)
			writeError(w, r, a.log, err)
		case v != nil:
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
	return kube.APIGroupList{TypeMeta: kube.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []kube.APIGroup{appsGroup, batchGroup, discoveryGroup, networkingGroup}}, nil
}

// appsGroup serves Deployments and ReplicaSets.
var appsGroup = kube.APIGroup{
	Name:             "apps",
	Versions:         []kube.GroupVersionForDiscovery{{GroupVersion: "apps/v1", Version: "v1"}},
	PreferredVersion: kube.GroupVersionForDiscovery{GroupVersion: "apps/v1", Version: "v1"},
}

// discoveryGroup serves the EndpointSlices of Services.
var discoveryGroup = kube.APIGroup{
	Name:             "discovery.k8s.io",
	Versions:         []kube.GroupVersionForDiscovery{{GroupVersion: "discovery.k8s.io/v1", Version: "v1"}},
	PreferredVersion: kube.GroupVersionForDiscovery{GroupVersion: "discovery.k8s.io/v1", Version: "v1"},
}

// batchGroup and networkingGroup serve kinds serve never holds (Jobs,
// CronJobs, Ingresses; see absentKind).
var (
	batchGroup = kube.APIGroup{
		Name:             "batch",
		Versions:         []kube.GroupVersionForDiscovery{{GroupVersion: "batch/v1", Version: "v1"}},
		PreferredVersion: kube.GroupVersionForDiscovery{GroupVersion: "batch/v1", Version: "v1"},
	}
	networkingGroup = kube.APIGroup{
		Name:             "networking.k8s.io",
		Versions:         []kube.GroupVersionForDiscovery{{GroupVersion: "networking.k8s.io/v1", Version: "v1"}},
		PreferredVersion: kube.GroupVersionForDiscovery{GroupVersion: "networking.k8s.io/v1", Version: "v1"},
	}
)

// absentVerbs are the verbs of the kinds serve never holds.
var absentVerbs = []string{"get", "list", "watch"}

var (
	batchResources = []kube.APIResource{
		{Name: "cronjobs", SingularName: "cronjob", Namespaced: true, Kind: "CronJob", Verbs: absentVerbs, ShortNames: []string{"cj"}, Categories: []string{"all"}},
		{Name: "jobs", SingularName: "job", Namespaced: true, Kind: "Job", Verbs: absentVerbs, Categories: []string{"all"}},
	}
	networkingResources = []kube.APIResource{
		{Name: "ingresses", SingularName: "ingress", Namespaced: true, Kind: "Ingress", Verbs: absentVerbs, ShortNames: []string{"ing"}},
	}
)

// resourceList serves one group version's discovery document.
func resourceList(groupVersion string, resources []kube.APIResource) func(*http.Request) (any, *status.HTTPError) {
	return func(*http.Request) (any, *status.HTTPError) {
		return kube.APIResourceList{TypeMeta: kube.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: groupVersion, APIResources: resources}, nil
	}
}

// getGroup serves one API group's document.
func getGroup(g kube.APIGroup) func(*http.Request) (any, *status.HTTPError) {
	return func(r *http.Request) (any, *status.HTTPError) {
		if _, ok := negotiate(r.Header.Get("Accept"), false); !ok {
			return nil, notAcceptable()
		}
		g.TypeMeta = kube.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		return g, nil
	}
}

// discoveryResources is the discovery document of /apis/discovery.k8s.io/v1.
var discoveryResources = []kube.APIResource{
	{Name: "endpointslices", SingularName: "endpointslice", Namespaced: true, Kind: "EndpointSlice", Verbs: []string{"get", "list"}},
}

func (a *api) getDiscoveryResources(*http.Request) (any, *status.HTTPError) {
	return kube.APIResourceList{TypeMeta: kube.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "discovery.k8s.io/v1", APIResources: discoveryResources}, nil
}

// appsResources is the discovery document of /apis/apps/v1.
var appsResources = []kube.APIResource{
	{Name: "daemonsets", SingularName: "daemonset", Namespaced: true, Kind: "DaemonSet", Verbs: absentVerbs, ShortNames: []string{"ds"}, Categories: []string{"all"}},
	{Name: "deployments", SingularName: "deployment", Namespaced: true, Kind: "Deployment", Verbs: []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}, ShortNames: []string{"deploy"}, Categories: []string{"all"}},
	{Name: "deployments/scale", Namespaced: true, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{"get", "patch", "update"}},
	{Name: "deployments/status", Namespaced: true, Kind: "Deployment", Verbs: []string{"get"}},
	{Name: "replicasets", SingularName: "replicaset", Namespaced: true, Kind: "ReplicaSet", Verbs: []string{"delete", "deletecollection", "get", "list", "watch"}, ShortNames: []string{"rs"}, Categories: []string{"all"}},
	{Name: "replicasets/status", Namespaced: true, Kind: "ReplicaSet", Verbs: []string{"get"}},
	{Name: "statefulsets", SingularName: "statefulset", Namespaced: true, Kind: "StatefulSet", Verbs: absentVerbs, ShortNames: []string{"sts"}, Categories: []string{"all"}},
}

func (a *api) getAppsResources(r *http.Request) (any, *status.HTTPError) {
	return kube.APIResourceList{TypeMeta: kube.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "apps/v1", APIResources: appsResources}, nil
}

// coreResources is the discovery document of /api/v1: what porthole serves
// and with which verbs, so kubectl neither offers nor tries the rest.
var coreResources = []kube.APIResource{
	{Name: "configmaps", SingularName: "configmap", Namespaced: true, Kind: "ConfigMap", Verbs: []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}, ShortNames: []string{"cm"}},
	{Name: "endpoints", SingularName: "endpoints", Namespaced: true, Kind: "Endpoints", Verbs: []string{"get", "list"}, ShortNames: []string{"ep"}},
	{Name: "events", SingularName: "event", Namespaced: true, Kind: "Event", Verbs: []string{"get", "list", "watch"}, ShortNames: []string{"ev"}},
	{Name: "namespaces", SingularName: "namespace", Kind: "Namespace", Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}, ShortNames: []string{"ns"}},
	{Name: "namespaces/status", Kind: "Namespace", Verbs: []string{"get"}},
	{Name: "nodes", SingularName: "node", Kind: "Node", Verbs: []string{"get", "list", "watch"}, ShortNames: []string{"no"}},
	{Name: "nodes/status", Kind: "Node", Verbs: []string{"get"}},
	{Name: "persistentvolumeclaims", SingularName: "persistentvolumeclaim", Namespaced: true, Kind: "PersistentVolumeClaim", Verbs: absentVerbs, ShortNames: []string{"pvc"}},
	{Name: "persistentvolumes", SingularName: "persistentvolume", Kind: "PersistentVolume", Verbs: absentVerbs, ShortNames: []string{"pv"}},
	{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}, ShortNames: []string{"po"}, Categories: []string{"all"}},
	{Name: "pods/attach", Namespaced: true, Kind: "PodAttachOptions", Verbs: []string{"create", "get"}},
	{Name: "pods/ephemeralcontainers", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "patch", "update"}},
	{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
	{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}},
	{Name: "pods/portforward", Namespaced: true, Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}},
	{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}},
	{Name: "replicationcontrollers", SingularName: "replicationcontroller", Namespaced: true, Kind: "ReplicationController", Verbs: absentVerbs, ShortNames: []string{"rc"}, Categories: []string{"all"}},
	{Name: "secrets", SingularName: "secret", Namespaced: true, Kind: "Secret", Verbs: []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}},
	{Name: "services", SingularName: "service", Namespaced: true, Kind: "Service", Verbs: []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}, ShortNames: []string{"svc"}, Categories: []string{"all"}},
	{Name: "services/status", Namespaced: true, Kind: "Service", Verbs: []string{"get"}},
}

func (a *api) getResources(r *http.Request) (any, *status.HTTPError) {
	return kube.APIResourceList{TypeMeta: kube.TypeMeta{Kind: "APIResourceList"}, GroupVersion: "v1", APIResources: coreResources}, nil
}

// selectors are a list request's label and field selectors.
type selectors struct {
	labels, fields kube.Selector
}

// parseSelectors reads labelSelector and fieldSelector, refusing field
// names outside known, and checks the rest of the list options.
func parseSelectors(q url.Values, known []string) (selectors, *status.HTTPError) {
	if aerr := checkListOptions(q); aerr != nil {
		return selectors{}, aerr
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

// syntheticTable renders objects porthole makes up on each request (the
// node, endpoints) as the API server's Table.
func syntheticTable[T any](r *http.Request, neg negotiation, now time.Time, items []T, columns []kube.TableColumnDefinition,
	row func(*T, time.Time) []any, meta func(*T) (kube.TypeMeta, kube.ObjectMeta)) (any, *status.HTTPError) {
	rows := make([]kube.TableRow, len(items))
	for i := range items {
		tm, om := meta(&items[i])
		obj, err := rowObject(r, neg, &items[i], tm, om)
		if err != nil {
			return nil, err
		}
		rows[i] = kube.TableRow{Cells: row(&items[i], now), Object: obj}
	}
	return kube.Table{TypeMeta: kube.TypeMeta{Kind: "Table", APIVersion: neg.tableVersion},
		ListMeta: kube.ListMeta{ResourceVersion: "1"}, ColumnDefinitions: columns, Rows: rows}, nil
}

// checkListOptions refuses what the API server's ValidateListOptions
// refuses in a list's or a watch's resourceVersionMatch and
// sendInitialEvents (serve has the WatchList feature), with its 422.
func checkListOptions(q url.Values) *status.HTTPError {
	match, rv, cont := q.Get("resourceVersionMatch"), q.Get("resourceVersion"), q.Get("continue")
	_, initial := q["sendInitialEvents"]
	forbidden := func(field, msg string) *status.HTTPError {
		return listOptionsInvalid(field, "FieldValueForbidden", "Forbidden: "+msg)
	}
	if isWatch(q) {
		switch {
		case initial && match != "NotOlderThan":
			return forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
		case match == "":
		case !initial:
			return forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
		case cont != "":
			return forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
		}
		return nil
	}
	if match != "" {
		switch {
		case rv == "":
			return forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided")
		case cont != "":
			return forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
		case match != "Exact" && match != "NotOlderThan":
			return listOptionsInvalid("resourceVersionMatch", "FieldValueNotSupported",
				fmt.Sprintf("Unsupported value: %q: supported values: \"Exact\", \"NotOlderThan\", \"\"", match))
		case match == "Exact" && rv == "0":
			return forbidden("resourceVersionMatch", `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`)
		}
	}
	if initial {
		return forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list")
	}
	return nil
}

// listOptionsInvalid is the API server's 422 for list options, with the
// field error's reason (FieldValueForbidden...) and detail.
func listOptionsInvalid(field, reason, detail string) *status.HTTPError {
	e := invalid("meta.k8s.io", "ListOptions", "", field+": "+detail)
	e.Status.Details.Causes[0].Type = reason
	return e
}
