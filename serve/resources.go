package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/kubeproto"
	"github.com/porthole/porthole/kube/table"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/serve/cluster"
)

// kind is how the API serves one resource: where, under which names, and
// as which table.
type kind struct {
	resource cluster.Resource
	prefix   string // /api/v1 or /apis/apps/v1
	// clusterScoped kinds (namespaces) are in no namespace: their routes
	// name the object {name}, and PathValue("namespace") is "".
	clusterScoped bool
	apiVersion    string
	kind          string
	listKind      string
	fields        []string // field selector keys
	field         func(cluster.Object) func(string) (string, bool)
	columns       []kube.TableColumnDefinition
	row           func(cluster.Object, time.Time) []any
	conditions    func(cluster.Object) []kube.TableRowCondition
	// list wraps items (copies without kind, as list items are encoded).
	list func(items []cluster.Object, meta kube.ListMeta) any
}

var (
	podKind = &kind{
		resource: cluster.Pods, prefix: "/api/v1", apiVersion: "v1", kind: "Pod", listKind: "PodList",
		fields:  kube.PodFields,
		field:   func(o cluster.Object) func(string) (string, bool) { return kube.PodField(o.(*kube.Pod)) },
		columns: table.PodColumns,
		row:     func(o cluster.Object, now time.Time) []any { return table.PodRow(o.(*kube.Pod), now) },
		conditions: func(o cluster.Object) []kube.TableRowCondition {
			return table.PodRowConditions(o.(*kube.Pod))
		},
		list: func(items []cluster.Object, meta kube.ListMeta) any {
			return kube.PodList{TypeMeta: kube.TypeMeta{Kind: "PodList", APIVersion: "v1"}, ListMeta: meta,
				Items: listItems(items, func(o *kube.Pod) *kube.TypeMeta { return &o.TypeMeta })}
		},
	}
	serviceKind = &kind{
		resource: cluster.Services, prefix: "/api/v1", apiVersion: "v1", kind: "Service", listKind: "ServiceList",
		fields:  metaFields,
		field:   metaField,
		columns: table.ServiceColumns,
		row:     func(o cluster.Object, now time.Time) []any { return table.ServiceRow(o.(*kube.Service), now) },
		list: func(items []cluster.Object, meta kube.ListMeta) any {
			return kube.ServiceList{TypeMeta: kube.TypeMeta{Kind: "ServiceList", APIVersion: "v1"}, ListMeta: meta,
				Items: listItems(items, func(o *kube.Service) *kube.TypeMeta { return &o.TypeMeta })}
		},
	}
	deploymentKind = &kind{
		resource: cluster.Deployments, prefix: "/apis/apps/v1", apiVersion: "apps/v1", kind: "Deployment", listKind: "DeploymentList",
		fields:  metaFields,
		field:   metaField,
		columns: table.DeploymentColumns,
		row:     func(o cluster.Object, now time.Time) []any { return table.DeploymentRow(o.(*kube.Deployment), now) },
		list: func(items []cluster.Object, meta kube.ListMeta) any {
			return kube.DeploymentList{TypeMeta: kube.TypeMeta{Kind: "DeploymentList", APIVersion: "apps/v1"}, ListMeta: meta,
				Items: listItems(items, func(o *kube.Deployment) *kube.TypeMeta { return &o.TypeMeta })}
		},
	}
	replicaSetKind = &kind{
		resource: cluster.ReplicaSets, prefix: "/apis/apps/v1", apiVersion: "apps/v1", kind: "ReplicaSet", listKind: "ReplicaSetList",
		fields:  metaFields,
		field:   metaField,
		columns: table.ReplicaSetColumns,
		row:     func(o cluster.Object, now time.Time) []any { return table.ReplicaSetRow(o.(*kube.ReplicaSet), now) },
		list: func(items []cluster.Object, meta kube.ListMeta) any {
			return kube.ReplicaSetList{TypeMeta: kube.TypeMeta{Kind: "ReplicaSetList", APIVersion: "apps/v1"}, ListMeta: meta,
				Items: listItems(items, func(o *kube.ReplicaSet) *kube.TypeMeta { return &o.TypeMeta })}
		},
	}
	eventKind = &kind{
		resource: cluster.Events, prefix: "/api/v1", apiVersion: "v1", kind: "Event", listKind: "EventList",
		fields:  kube.EventFields,
		field:   func(o cluster.Object) func(string) (string, bool) { return kube.EventField(o.(*kube.Event)) },
		columns: table.EventColumns,
		row:     func(o cluster.Object, now time.Time) []any { return table.EventRow(o.(*kube.Event), now) },
		list: func(items []cluster.Object, meta kube.ListMeta) any {
			return kube.EventList{TypeMeta: kube.TypeMeta{Kind: "EventList", APIVersion: "v1"}, ListMeta: meta,
				Items: listItems(items, func(o *kube.Event) *kube.TypeMeta { return &o.TypeMeta })}
		},
	}
	namespaceKind = &kind{
		resource: cluster.Namespaces, prefix: "/api/v1", apiVersion: "v1", kind: "Namespace", listKind: "NamespaceList",
		clusterScoped: true,
		fields:        []string{"metadata.name", "status.phase"},
		field:         func(o cluster.Object) func(string) (string, bool) { return namespaceField(o.(*kube.Namespace)) },
		columns:       table.NamespaceColumns,
		row:           func(o cluster.Object, now time.Time) []any { return table.NamespaceRow(o.(*kube.Namespace), now) },
		list: func(items []cluster.Object, meta kube.ListMeta) any {
			return kube.NamespaceList{TypeMeta: kube.TypeMeta{Kind: "NamespaceList", APIVersion: "v1"}, ListMeta: meta,
				Items: listItems(items, func(o *kube.Namespace) *kube.TypeMeta { return &o.TypeMeta })}
		},
	}
	configMapKind = &kind{
		resource: cluster.ConfigMaps, prefix: "/api/v1", apiVersion: "v1", kind: "ConfigMap", listKind: "ConfigMapList",
		fields:  metaFields,
		field:   metaField,
		columns: table.ConfigMapColumns,
		row:     func(o cluster.Object, now time.Time) []any { return table.ConfigMapRow(o.(*kube.ConfigMap), now) },
		list: func(items []cluster.Object, meta kube.ListMeta) any {
			return kube.ConfigMapList{TypeMeta: kube.TypeMeta{Kind: "ConfigMapList", APIVersion: "v1"}, ListMeta: meta,
				Items: listItems(items, func(o *kube.ConfigMap) *kube.TypeMeta { return &o.TypeMeta })}
		},
	}
	secretKind = &kind{
		resource: cluster.Secrets, prefix: "/api/v1", apiVersion: "v1", kind: "Secret", listKind: "SecretList",
		fields:  append(slices.Clip(metaFields), "type"),
		field:   func(o cluster.Object) func(string) (string, bool) { return secretField(o.(*kube.Secret)) },
		columns: table.SecretColumns,
		row:     func(o cluster.Object, now time.Time) []any { return table.SecretRow(o.(*kube.Secret), now) },
		list: func(items []cluster.Object, meta kube.ListMeta) any {
			return kube.SecretList{TypeMeta: kube.TypeMeta{Kind: "SecretList", APIVersion: "v1"}, ListMeta: meta,
				Items: listItems(items, func(o *kube.Secret) *kube.TypeMeta { return &o.TypeMeta })}
		},
	}
	// allKinds are the namespaced kinds, served under every namespace.
	allKinds = []*kind{podKind, serviceKind, deploymentKind, replicaSetKind, eventKind, configMapKind, secretKind,
		absentKind("/api/v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
		absentKind("/api/v1", "replicationcontrollers", "ReplicationController"),
		absentKind("/apis/apps/v1", "daemonsets", "DaemonSet"),
		absentKind("/apis/apps/v1", "statefulsets", "StatefulSet"),
		absentKind("/apis/batch/v1", "jobs", "Job"),
		absentKind("/apis/batch/v1", "cronjobs", "CronJob"),
		absentKind("/apis/networking.k8s.io/v1", "ingresses", "Ingress")}
	// persistentVolumeKind is cluster-scoped, and absent too.
	persistentVolumeKind = func() *kind {
		k := absentKind("/api/v1", "persistentvolumes", "PersistentVolume")
		k.clusterScoped = true
		return k
	}()
)

// absentKind is a kind serve knows of and never holds, as a cluster that
// has none of them: in discovery, its lists empty, each of its objects
// not found. kubectl commands that go through every kind they know of
// need its mapping: apply --prune's default kinds, get all. Nothing
// creates one (their writes are not served).
func absentKind(prefix string, resource cluster.Resource, kindName string) *kind {
	apiVersion := strings.TrimPrefix(strings.TrimPrefix(prefix, "/apis/"), "/api/")
	return &kind{
		resource: resource, prefix: prefix, apiVersion: apiVersion, kind: kindName, listKind: kindName + "List",
		fields:  metaFields,
		field:   metaField,
		columns: table.AbsentColumns,
		row:     func(cluster.Object, time.Time) []any { return nil }, // there are no rows
		list: func(_ []cluster.Object, meta kube.ListMeta) any {
			return emptyList{TypeMeta: kube.TypeMeta{Kind: kindName + "List", APIVersion: apiVersion}, ListMeta: meta, Items: []struct{}{}}
		},
	}
}

// emptyList is the list of an absentKind.
type emptyList struct {
	kube.TypeMeta `json:",inline"`
	kube.ListMeta `json:"metadata"`
	Items         []struct{} `json:"items"`
}

// listItems copies objs, which must be *T, as a list's items: never nil
// (an empty list encodes its items as []), each without its kind, as list
// items are encoded.
func listItems[T any](objs []cluster.Object, typeMeta func(*T) *kube.TypeMeta) []T {
	items := make([]T, 0, len(objs))
	for _, o := range objs {
		item := *any(o).(*T)
		*typeMeta(&item) = kube.TypeMeta{}
		items = append(items, item)
	}
	return items
}

// metaFields are the field selector keys every kind supports.
var metaFields = []string{"metadata.name", "metadata.namespace"}

func metaField(o cluster.Object) func(string) (string, bool) { return objectField(o.Meta()) }

// secretField is a Secret's selectable fields: its metadata's and its
// type, as the API server's (kubectl get secrets
// --field-selector type=kubernetes.io/tls).
func secretField(s *kube.Secret) func(string) (string, bool) {
	meta := objectField(&s.ObjectMeta)
	return func(k string) (string, bool) {
		if k == "type" {
			return s.Type, true
		}
		return meta(k)
	}
}

// objectField is the metaFields of m.
func objectField(m *kube.ObjectMeta) func(string) (string, bool) {
	return func(k string) (string, bool) {
		switch k {
		case "metadata.name":
			return m.Name, true
		case "metadata.namespace":
			return m.Namespace, true
		}
		return "", false
	}
}

// matcher is the selection of a list or watch.
func (k *kind) matcher(sel selectors) func(cluster.Object) bool {
	return func(o cluster.Object) bool {
		return sel.labels.Matches(kube.Label(o.Meta().Labels)) && sel.fields.Matches(k.field(o))
	}
}

// getObject serves one object, as JSON or as a one-row Table.
func (a *api) getObject(r *http.Request, k *kind) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), !strings.HasSuffix(r.URL.Path, "/status"))
	if !ok {
		return nil, notAcceptable()
	}
	o, found := a.cluster.Get(k.resource, r.PathValue("namespace"), r.PathValue("name"))
	if !found {
		return nil, notFoundIn(k, r.PathValue("name"))
	}
	if neg.out == outTable {
		return a.table(r, neg, k, []cluster.Object{o}, kube.ListMeta{ResourceVersion: o.Meta().ResourceVersion}, true)
	}
	return o, nil
}

// notFoundIn is the API server's NotFound for a resource of a group:
// `deployments.apps "web" not found`.
func notFoundIn(k *kind, name string) *status.HTTPError {
	res := string(k.resource)
	if g := k.group(); g != "" {
		e := notFound(res+"."+g, name)
		e.Status.Details.Kind = res
		e.Status.Details.Group = g
		return e
	}
	return notFound(res, name)
}

// list serves the objects of one namespace, or of all, filtered by
// labelSelector and fieldSelector; with watch=1 it streams their changes.
func (a *api) list(w http.ResponseWriter, r *http.Request, k *kind) (any, *status.HTTPError) {
	neg, ok := negotiate(r.Header.Get("Accept"), true)
	if !ok {
		return nil, notAcceptable()
	}
	q := r.URL.Query()
	sel, aerr := parseSelectors(q, k.fields)
	if aerr != nil {
		return nil, aerr
	}
	if isWatch(q) {
		return nil, a.watch(w, r, k, neg, sel)
	}
	limit, cont, aerr := chunking(q)
	if aerr != nil {
		return nil, aerr
	}
	var at cluster.ListAt
	if rv := q.Get("resourceVersion"); rv != "" {
		n, err := strconv.ParseUint(rv, 10, 64)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("invalid resource version: resourceVersion: Invalid value: %q: %v", rv, err))
		}
		at = cluster.ListAt{ResourceVersion: n, Exact: q.Get("resourceVersionMatch") == "Exact"}
	}
	selected := !sel.labels.Empty() || !sel.fields.Empty()
	page, err := a.cluster.ListChunk(r.Context(), k.resource, r.PathValue("namespace"), k.matcher(sel), selected, limit, cont, at)
	var bad *cluster.ContinueError
	var expired *cluster.ExpiredError
	var tooLarge *cluster.VersionTooLargeError
	switch {
	case errors.As(err, &bad):
		return nil, badRequest(bad.Msg)
	case errors.As(err, &expired):
		st := status.NewHTTP(http.StatusGone, "Expired", expired.Error(), nil)
		st.Metadata = &status.ListMeta{Continue: expired.Continue}
		return nil, &status.HTTPError{Status: st}
	case errors.Is(err, cluster.ErrListTooOld):
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusGone, "Expired", err.Error(), nil)}
	case errors.As(err, &tooLarge):
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusGatewayTimeout, "Timeout", "Timeout: "+err.Error(),
			&status.Details{RetryAfterSeconds: 1, Causes: []status.Cause{{Type: "ResourceVersionTooLarge", Message: "Too large resource version"}}})}
	case err != nil:
		return nil, internalError(err)
	}
	meta := kube.ListMeta{ResourceVersion: page.ResourceVersion, Continue: page.Continue, RemainingItemCount: page.Remaining}
	if neg.out == outTable {
		return a.table(r, neg, k, page.Items, meta, true)
	}
	return k.list(page.Items, meta), nil
}

// chunking reads a list's limit and continue as the API server does: a
// limit of 0 or less is none; resourceVersion=0 (any version will do)
// reads the cache whole, whatever the limit; a continue token goes with
// no other resourceVersion.
func chunking(q url.Values) (int64, string, *status.HTTPError) {
	var limit int64
	if s := q.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, "", badRequest(err.Error())
		}
		limit = max(n, 0)
	}
	cont, rv := q.Get("continue"), q.Get("resourceVersion")
	switch {
	case cont != "" && rv != "" && rv != "0":
		if _, _, err := cluster.DecodeContinue(cont); err != nil {
			return 0, "", badRequest("invalid continue token: " + err.Error())
		}
		return 0, "", badRequest("specifying resource version is not allowed when using continue")
	case rv == "0" && cont == "":
		limit = 0
	}
	return limit, cont, nil
}

// isWatch reads watch as the API server reads its booleans: the official
// Python client sends "True".
func isWatch(q url.Values) bool { return protocol.QueryBool(q, "watch") }

// table renders objects as the API server's Table for their kind; headers
// false leaves out the column definitions (watch events after the first).
func (a *api) table(r *http.Request, neg negotiation, k *kind, items []cluster.Object, meta kube.ListMeta, headers bool) (*kube.Table, *status.HTTPError) {
	now := a.now()
	rows := make([]kube.TableRow, len(items))
	for i, o := range items {
		m := *o.Meta()
		obj, err := rowObject(r, neg, o, kube.TypeMeta{Kind: k.kind, APIVersion: k.apiVersion}, m)
		if err != nil {
			return nil, err
		}
		rows[i] = kube.TableRow{Cells: k.row(o, now), Object: obj}
		if k.conditions != nil {
			rows[i].Conditions = k.conditions(o)
		}
	}
	t := &kube.Table{TypeMeta: kube.TypeMeta{Kind: "Table", APIVersion: neg.tableVersion},
		ListMeta: meta, Rows: rows}
	if headers {
		t.ColumnDefinitions = k.columns
	}
	return t, nil
}

// maxBody bounds a DELETE, PATCH or PUT body.
const maxBody = 1 << 20

// bodyLimit bounds a PATCH or PUT body of k: maxBody, or more for a
// ConfigMap, which may be larger.
func (k *kind) bodyLimit() int {
	if k == configMapKind || k == secretKind {
		return maxConfigMapBody
	}
	return maxBody
}

// maxPodBody bounds a created pod (kubectl run's is under a kilobyte):
// the cluster keeps up to cluster.MaxPods of them, and a copy in its
// watch history for each of their changes.
const maxPodBody = 64 << 10

// writeBody reads a write's body, of one of the media types accepted
// ("" for none given) and returns which, within limit bytes. Where JSON is accepted, so is Kubernetes protobuf (kubectl
// 1.32 and later create in it), returned as JSON.
func writeBody(r *http.Request, limit int, accepted ...string) ([]byte, string, *status.HTTPError) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == kubeproto.ContentType && slices.Contains(accepted, "application/json") {
		body, _, aerr := writeBody(r, limit, kubeproto.ContentType)
		if aerr != nil {
			return nil, "", aerr
		}
		j, err := kubeproto.ToJSON(body)
		if err != nil {
			return nil, "", badRequest(err.Error())
		}
		return j, "application/json", nil
	}
	if !slices.Contains(accepted, ct) {
		named := slices.DeleteFunc(slices.Clone(accepted), func(s string) bool { return s == "" })
		return nil, "", &status.HTTPError{Status: status.NewHTTP(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s (got %q)", strings.Join(named, ", "), ct), nil)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, "", badRequest(fmt.Sprintf("read body: %v", err))
	}
	if len(body) > limit {
		return nil, "", tooLarge()
	}
	return body, ct, nil
}

// patchers are the ways to patch objects of a type: by a merge patch, a
// strategic merge patch, a JSON Patch, a server-side apply; create makes
// the object an apply finds missing, from its JSON.
type patchers[T any] struct {
	merge, strategic, json, apply func(ns, name string, body []byte, opts ...cluster.WriteOptions) (T, error)
	create                        func(w http.ResponseWriter, r *http.Request, body []byte, opts cluster.WriteOptions) (any, *status.HTTPError)
}

// patchDeployment patches a Deployment's spec and metadata: a changed
// template rolls the pods out again.
func (a *api) patchDeployment(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	c := a.cluster
	return patchObject(w, r, deploymentKind, patchers[*kube.Deployment]{c.PatchDeployment, c.StrategicPatchDeployment, c.JSONPatchDeployment, c.ApplyDeployment,
		func(w http.ResponseWriter, r *http.Request, body []byte, opts cluster.WriteOptions) (any, *status.HTTPError) {
			return createFrom(w, r, deploymentKind, body, opts, c.CreateDeployment)
		}})
}

// patchPod patches a pod (kubectl label's, annotate's, apply's): its
// labels, annotations and images may change.
func (a *api) patchPod(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	c := a.cluster
	return patchObject(w, r, podKind, patchers[*kube.Pod]{c.PatchPod, c.StrategicPatchPod, c.JSONPatchPod, c.ApplyPod,
		func(w http.ResponseWriter, r *http.Request, body []byte, opts cluster.WriteOptions) (any, *status.HTTPError) {
			return createFrom(w, r, podKind, body, opts, c.CreatePod)
		}})
}

// patchNamespace patches a namespace (kubectl label's, annotate's,
// apply's): its labels and annotations may change.
func (a *api) patchNamespace(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	c := a.cluster
	return patchObject(w, r, namespaceKind, patchers[*kube.Namespace]{c.PatchNamespace, c.StrategicPatchNamespace, c.JSONPatchNamespace, c.ApplyNamespace,
		func(w http.ResponseWriter, r *http.Request, body []byte, opts cluster.WriteOptions) (any, *status.HTTPError) {
			return createFrom(w, r, namespaceKind, body, opts, c.CreateNamespace)
		}})
}

// patchConfigMap patches a ConfigMap (kubectl apply's, edit's, label's).
func (a *api) patchConfigMap(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	c := a.cluster
	return patchObject(w, r, configMapKind, patchers[*kube.ConfigMap]{c.PatchConfigMap, c.StrategicPatchConfigMap, c.JSONPatchConfigMap, c.ApplyConfigMap,
		func(w http.ResponseWriter, r *http.Request, body []byte, opts cluster.WriteOptions) (any, *status.HTTPError) {
			return createFrom(w, r, configMapKind, body, opts, c.CreateConfigMap)
		}})
}

// patchSecret patches a Secret (kubectl apply's, edit's, label's).
func (a *api) patchSecret(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	c := a.cluster
	return patchObject(w, r, secretKind, patchers[*kube.Secret]{c.PatchSecret, c.StrategicPatchSecret, c.JSONPatchSecret, c.ApplySecret,
		func(w http.ResponseWriter, r *http.Request, body []byte, opts cluster.WriteOptions) (any, *status.HTTPError) {
			return createFrom(w, r, secretKind, body, opts, c.CreateSecret)
		}})
}

// patchService patches a Service (kubectl apply's, kubectl label's).
func (a *api) patchService(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	c := a.cluster
	return patchObject(w, r, serviceKind, patchers[*kube.Service]{c.PatchService, c.StrategicPatchService, c.JSONPatchService, c.ApplyService,
		func(w http.ResponseWriter, r *http.Request, body []byte, opts cluster.WriteOptions) (any, *status.HTTPError) {
			return createFrom(w, r, serviceKind, body, opts, c.CreateService)
		}})
}

// patchObject applies the request's patch to an object of k with the
// function for its type. kubectl apply's patches may carry fields
// porthole does not model (see cluster.WriteOptions); other patches that
// set one are refused, naming it.
func patchObject[T any](w http.ResponseWriter, r *http.Request, k *kind, p patchers[T]) (any, *status.HTTPError) {
	accepted := []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}
	if p.apply != nil {
		accepted = append(accepted, applyPatch)
	}
	body, ct, aerr := writeBody(r, k.bodyLimit(), accepted...)
	if aerr != nil {
		return nil, aerr
	}
	opts, aerr := patchOptions(r, ct)
	if aerr != nil {
		return nil, aerr
	}
	opts.Warn = (&warner{w: w}).add
	// kubectl apply names itself as the field manager (client-side apply).
	opts.Apply = opts.Manager == "kubectl-client-side-apply"
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	var o T
	var err error
	switch ct {
	case "application/json-patch+json":
		o, err = p.json(ns, name, body, opts)
	case "application/strategic-merge-patch+json":
		o, err = p.strategic(ns, name, body, opts)
	case applyPatch:
		cfg, dups, aerr := applyBody(k, body, ns)
		if aerr != nil {
			return nil, aerr
		}
		if err := cluster.CheckApplied(k.kind, k.apiVersion, cfg); err != nil {
			return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusInternalServerError, "", err.Error(), nil)}
		}
		applied, err := applyOrCreate(w, r, p, ns, name, cfg, dups, opts)
		var herr *status.HTTPError
		switch {
		case err == nil:
			return applied, nil
		case errors.As(err, &herr):
			return nil, herr
		}
		return nil, patchError(k, name, err)
	default:
		o, err = p.merge(ns, name, body, opts)
	}
	if err != nil {
		return nil, patchError(k, name, err)
	}
	return o, nil
}

// patchError is the API server's answer to a patch's error.
func patchError(k *kind, name string, err error) *status.HTTPError {
	var inv *cluster.InvalidError
	var perr *cluster.PatchError
	var big *cluster.TooLargeError
	var conflicts *cluster.ConflictError
	var strict *cluster.FieldsError
	switch {
	case errors.As(err, &strict):
		return invalid("", "", "", strict.Error())
	case errors.As(err, &big):
		return objectTooLarge(k, name, big)
	case errors.Is(err, cluster.ErrNotFound):
		return notFoundIn(k, name)
	case errors.As(err, &conflicts):
		return conflictOf(k, name, conflicts)
	case errors.Is(err, cluster.ErrConflict):
		return conflict(k, fmt.Sprintf("Operation cannot be fulfilled on %s %q: %v", k.qualified(), name, err), name)
	case errors.As(err, &perr):
		return &status.HTTPError{Status: status.NewHTTP(http.StatusUnprocessableEntity, "Invalid", perr.Msg, nil)}
	case errors.As(err, &inv):
		return invalid(k.group(), k.kind, name, inv.Msg, inv.Causes...)
	case errors.Is(err, cluster.ErrNoEphemeral):
		return errNoRoute // as the API server without the feature
	}
	return badRequest(err.Error())
}

// applyOrCreate applies cfg, or creates the object from it if there is
// none. A key named twice in its document (dups) is, as the API server
// takes it, refused by fieldValidation=Strict once the apply has been
// found to go through (so that a conflict comes first), and warned of
// with Warn once it has.
func applyOrCreate[T any](w http.ResponseWriter, r *http.Request, p patchers[T], ns, name string, cfg []byte, dups []string, opts cluster.WriteOptions) (any, error) {
	if len(dups) > 0 && opts.FieldValidation == cluster.ValidationStrict {
		dry := opts
		dry.DryRun = true
		if _, err := p.apply(ns, name, cfg, dry); err != nil && !errors.Is(err, cluster.ErrNotFound) {
			return nil, err
		}
		return nil, badRequest("error strict decoding patch: error converting YAML to JSON: yaml: unmarshal errors:\n  " + strings.Join(dups, "\n  "))
	}
	warn := func() {
		if opts.FieldValidation == cluster.ValidationWarn {
			for _, d := range dups {
				opts.Warn(d)
			}
		}
	}
	o, err := p.apply(ns, name, cfg, opts)
	if errors.Is(err, cluster.ErrNotFound) && p.create != nil {
		opts.ServerSide, opts.Applied = true, cfg
		warn() // before the create writes its answer
		created, aerr := p.create(w, r, cfg, opts)
		if aerr != nil {
			w.Header().Del("Warning")
			return nil, aerr
		}
		return created, nil
	}
	if err != nil {
		return nil, err
	}
	warn()
	return o, nil
}

// updatePod, updateService and updateDeployment replace an object (PUT:
// kubectl replace, client-go's Update), under its resourceVersion when
// the body names one.
func (a *api) updatePod(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return updateObject(w, r, podKind, a.cluster.UpdatePod)
}

// patchEphemeralContainers adds ephemeral containers to a running pod
// (kubectl debug's strategic merge patch of pods/ephemeralcontainers).
func (a *api) patchEphemeralContainers(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	c := a.cluster
	return patchObject(w, r, podKind, patchers[*kube.Pod]{merge: c.PatchEphemeralContainers, strategic: c.StrategicPatchEphemeralContainers, json: c.JSONPatchEphemeralContainers})
}

func (a *api) updateEphemeralContainers(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return updateObject(w, r, podKind, a.cluster.UpdateEphemeralContainers)
}

func (a *api) updateService(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return updateObject(w, r, serviceKind, a.cluster.UpdateService)
}

func (a *api) updateDeployment(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return updateObject(w, r, deploymentKind, a.cluster.UpdateDeployment)
}

func (a *api) updateNamespace(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return updateObject(w, r, namespaceKind, a.cluster.UpdateNamespace)
}

func (a *api) updateConfigMap(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return updateObject(w, r, configMapKind, a.cluster.UpdateConfigMap)
}

func (a *api) updateSecret(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return updateObject(w, r, secretKind, a.cluster.UpdateSecret)
}

func updateObject[T any](w http.ResponseWriter, r *http.Request, k *kind, update func(ns, name string, body []byte, opts ...cluster.WriteOptions) (T, error)) (any, *status.HTTPError) {
	opts, aerr := writeOptions(r, "UpdateOptions")
	if aerr != nil {
		return nil, aerr
	}
	opts.Warn = (&warner{w: w}).add
	body, _, aerr := writeBody(r, k.bodyLimit(), "application/json")
	if aerr != nil {
		return nil, aerr
	}
	var head struct {
		kube.TypeMeta
		Metadata kube.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, badRequest(fmt.Sprintf("decode %s: %v", k.kind, err))
	}
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	head.DefaultTypeMeta(k.kind, k.apiVersion)
	switch m := head.Metadata; {
	case head.Kind != k.kind || head.APIVersion != k.apiVersion:
		return nil, badRequest(fmt.Sprintf("the body is a %s %q, not a %s %s", head.APIVersion, head.Kind, k.apiVersion, k.kind))
	case m.Name != name:
		return nil, badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.Name, name))
	case m.Namespace != "" && m.Namespace != ns && !k.clusterScoped:
		return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	body, aerr = strictBody(k, head.APIVersion, head.Kind, body, opts)
	if aerr != nil {
		return nil, aerr
	}
	opts.ResourceVersion = head.Metadata.ResourceVersion
	o, err := update(ns, name, body, opts)
	var inv *cluster.InvalidError
	var big *cluster.TooLargeError
	switch {
	case errors.As(err, &big):
		return nil, objectTooLarge(k, name, big)
	case errors.Is(err, cluster.ErrNotFound):
		return nil, notFoundIn(k, name)
	case errors.Is(err, cluster.ErrConflict):
		return nil, conflict(k, fmt.Sprintf("Operation cannot be fulfilled on %s %q: %v", k.qualified(), name, err), name)
	case errors.As(err, &inv):
		return nil, invalid(k.group(), k.kind, name, inv.Msg, inv.Causes...)
	case errors.Is(err, cluster.ErrUnsupported):
		return nil, errMethod
	case errors.Is(err, cluster.ErrNoEphemeral):
		return nil, errNoRoute // as the API server without the feature
	case err != nil:
		return nil, badRequest(err.Error())
	}
	return o, nil
}

func tooLarge() *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the request body is too large", nil)}
}
