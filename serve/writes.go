package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/kubeproto"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/serve/cluster"
)

// group is the API group of k's resource: "" for the core group.
func (k *kind) group() string {
	if g, ok := strings.CutPrefix(k.prefix, "/apis/"); ok {
		g, _, _ = strings.Cut(g, "/")
		return g
	}
	return ""
}

// qualified names k's resource as the API server's messages do:
// deployments.apps, pods.
func (k *kind) qualified() string {
	if g := k.group(); g != "" {
		return string(k.resource) + "." + g
	}
	return string(k.resource)
}

func (k *kind) details(name string) *status.Details {
	return &status.Details{Name: name, Group: k.group(), Kind: string(k.resource)}
}

func conflict(k *kind, msg, name string) *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusConflict, "Conflict", msg, k.details(name))}
}

// createObject creates an object of k from a create's JSON body (a *T),
// in the path's namespace: 201 with the object as stored, or as it would
// be (dryRun=All). Fields porthole does not model are ignored, as in a
// manifest.
func createObject[T any, PT interface {
	*T
	cluster.Object
	DefaultTypeMeta(kind, apiVersion string)
}](w http.ResponseWriter, r *http.Request, k *kind, limit int, create func(PT, ...cluster.WriteOptions) (PT, error)) (any, *status.HTTPError) {
	opts, aerr := writeOptions(r, "CreateOptions")
	if aerr != nil {
		return nil, aerr
	}
	opts.Warn = (&warner{w: w}).add
	body, _, aerr := writeBody(r, limit, "application/json")
	if aerr != nil {
		return nil, aerr
	}
	return createFrom(w, r, k, body, opts, create)
}

// createFrom creates an object of k from body, its JSON: a create's, or
// a server-side apply's that found none.
func createFrom[T any, PT interface {
	*T
	cluster.Object
	DefaultTypeMeta(kind, apiVersion string)
}](w http.ResponseWriter, r *http.Request, k *kind, body []byte, opts cluster.WriteOptions, create func(PT, ...cluster.WriteOptions) (PT, error)) (any, *status.HTTPError) {
	var tm kube.TypeMeta
	o := PT(new(T))
	if err := json.Unmarshal(body, &tm); err != nil {
		return nil, badRequest(fmt.Sprintf("decode %s: %v", k.kind, err))
	}
	if err := json.Unmarshal(body, o); err != nil {
		return nil, badRequest(fmt.Sprintf("decode %s: %v", k.kind, err))
	}
	tm.DefaultTypeMeta(k.kind, k.apiVersion)
	if !opts.ServerSide { // an apply's fields are checked as it is applied
		clean, aerr := strictBody(k, tm.APIVersion, tm.Kind, body, opts)
		if aerr != nil {
			return nil, aerr
		}
		if len(clean) != len(body) {
			o = PT(new(T))
			if err := json.Unmarshal(clean, o); err != nil {
				return nil, badRequest(fmt.Sprintf("decode %s: %v", k.kind, err))
			}
		}
	}
	o.DefaultTypeMeta(k.kind, k.apiVersion)
	if tm.Kind != k.kind || tm.APIVersion != k.apiVersion {
		return nil, badRequest(fmt.Sprintf("the body is a %s %q, not a %s %s", tm.APIVersion, tm.Kind, k.apiVersion, k.kind))
	}
	m, ns := o.Meta(), r.PathValue("namespace")
	if m.Namespace != "" && m.Namespace != ns && !k.clusterScoped {
		return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	m.Namespace = ns
	if url := r.PathValue("name"); opts.ServerSide && m.Name != url {
		if m.Name != "" {
			return nil, badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.Name, url))
		}
		m.Name = url
	}
	created, err := create(o, opts)
	var inv *cluster.InvalidError
	var big *cluster.TooLargeError
	var term *cluster.TerminatingError
	switch {
	case errors.As(err, &term):
		d := k.details(m.Name)
		d.Causes = []status.Cause{{Type: "NamespaceTerminating", Message: fmt.Sprintf("namespace %s is being terminated", term.Namespace), Field: "metadata.namespace"}}
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusForbidden, "Forbidden",
			fmt.Sprintf("%s %q is forbidden: %v", k.qualified(), m.Name, err), d)}
	case errors.As(err, &big):
		return nil, objectTooLarge(k, m.Name, big)
	case errors.As(err, &inv):
		return nil, invalid(k.group(), k.kind, m.Name, inv.Msg, inv.Causes...)
	case errors.Is(err, cluster.ErrExists):
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusConflict, "AlreadyExists",
			fmt.Sprintf("%s %q already exists", k.qualified(), m.Name), k.details(m.Name))}
	case errors.Is(err, cluster.ErrNotFound):
		return nil, notFound("namespaces", ns)
	case errors.Is(err, cluster.ErrTooManyPods), errors.Is(err, cluster.ErrTooMany):
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusForbidden, "Forbidden",
			fmt.Sprintf("%s %q is forbidden: %v", k.qualified(), m.Name, err), k.details(m.Name))}
	case errors.Is(err, cluster.ErrUnsupported):
		return nil, errMethod
	case err != nil:
		return nil, internalError(fmt.Errorf("create %s: %w", k.resource, err))
	}
	writeJSON(w, http.StatusCreated, created)
	return nil, nil
}

// createPod creates a bare pod, as kubectl run sends it.
func (a *api) createPod(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return createObject(w, r, podKind, maxPodBody, a.cluster.CreatePod)
}

// createDeployment creates a Deployment, as kubectl create deployment
// sends it; the controllers then roll it out.
func (a *api) createDeployment(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return createObject(w, r, deploymentKind, maxPodBody, a.cluster.CreateDeployment)
}

// createNamespace creates a namespace, as kubectl create namespace sends
// it.
func (a *api) createNamespace(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return createObject(w, r, namespaceKind, maxPodBody, a.cluster.CreateNamespace)
}

// maxConfigMapBody bounds a created ConfigMap: its values may be
// kube.MaxConfigMapData, and more in base64 (binaryData), within the API
// server's bound on a request.
const maxConfigMapBody = 3 << 20

// createConfigMap creates a ConfigMap, as kubectl create configmap sends
// it.
func (a *api) createConfigMap(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return createObject(w, r, configMapKind, maxConfigMapBody, a.cluster.CreateConfigMap)
}

// createSecret creates a Secret, as kubectl create secret sends it; its
// values are bounded as a ConfigMap's are.
func (a *api) createSecret(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return createObject(w, r, secretKind, maxConfigMapBody, a.cluster.CreateSecret)
}

// createService creates a Service, as kubectl expose and kubectl create
// service send it.
func (a *api) createService(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	return createObject(w, r, serviceKind, maxPodBody, a.cluster.CreateService)
}

// deleteOptions is the part of a DeleteOptions body porthole reads.
type deleteOptions struct {
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
	Preconditions      *struct {
		UID             *string `json:"uid"`
		ResourceVersion *string `json:"resourceVersion"`
	} `json:"preconditions"`
	PropagationPolicy *string  `json:"propagationPolicy"`
	OrphanDependents  *bool    `json:"orphanDependents"`
	DryRun            []string `json:"dryRun"`

	dry bool // DryRun, checked: All
}

// readDeleteOptions reads a delete's options from its body and query, as
// the API server takes them.
func readDeleteOptions(r *http.Request) (deleteOptions, *status.HTTPError) {
	var opts deleteOptions
	q := r.URL.Query()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		return opts, badRequest(fmt.Sprintf("read body: %v", err))
	case len(body) > maxBody:
		return opts, tooLarge()
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == kubeproto.ContentType && len(body) > 0 {
		if body, err = kubeproto.ToJSON(body); err != nil {
			return opts, badRequest(err.Error())
		}
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &opts); err != nil {
			return opts, badRequest(fmt.Sprintf("decode DeleteOptions: %v", err))
		}
	}
	if len(opts.DryRun) == 0 {
		opts.DryRun = q["dryRun"]
	}
	var aerr *status.HTTPError
	if opts.dry, aerr = dryRunOf(opts.DryRun); aerr != nil {
		return opts, aerr
	}
	if g := q.Get("gracePeriodSeconds"); g != "" && opts.GracePeriodSeconds == nil {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return opts, badRequest(fmt.Sprintf("gracePeriodSeconds: %q is not an integer", g))
		}
		opts.GracePeriodSeconds = &n
	}
	if p := q.Get("propagationPolicy"); p != "" && opts.PropagationPolicy == nil {
		opts.PropagationPolicy = &p
	}
	if _, ok := q["orphanDependents"]; ok && opts.OrphanDependents == nil {
		b := protocol.QueryBool(q, "orphanDependents")
		opts.OrphanDependents = &b
	}
	return opts, nil
}

// check refuses the delete of cur when its preconditions do not hold.
func (opts *deleteOptions) check(k *kind, cur cluster.Object) *status.HTTPError {
	p, m := opts.Preconditions, cur.Meta()
	switch {
	case p == nil:
	case p.UID != nil && *p.UID != m.UID:
		return conflict(k, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", *p.UID, m.UID), m.Name)
	case p.ResourceVersion != nil && *p.ResourceVersion != m.ResourceVersion:
		return conflict(k, fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", *p.ResourceVersion, m.ResourceVersion), m.Name)
	}
	return nil
}

// propagation is the delete's policy for dependents: Background unless
// asked otherwise, as for apps/v1 and core/v1 objects.
func (opts *deleteOptions) propagation(k *kind, name string) (cluster.Propagation, *status.HTTPError) {
	if o := opts.OrphanDependents; o != nil {
		if opts.PropagationPolicy != nil {
			return "", invalid(k.group(), "DeleteOptions", name, "propagationPolicy: Invalid value: \"\": orphanDependents and deletionPropagation cannot be both set")
		}
		if *o {
			return cluster.Orphan, nil
		}
		return cluster.Foreground, nil
	}
	if opts.PropagationPolicy == nil {
		return cluster.Background, nil
	}
	switch p := cluster.Propagation(*opts.PropagationPolicy); p {
	case cluster.Background, cluster.Foreground, cluster.Orphan:
		return p, nil
	default:
		return "", invalid(k.group(), "DeleteOptions", name,
			fmt.Sprintf("propagationPolicy: Unsupported value: %q: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"", p))
	}
}

// deletePod deletes a pod as the API server does: 200 with the pod marked
// for deletion (deletionTimestamp), gone after its grace period; with
// gracePeriodSeconds 0 (--force --grace-period=0) gone at once. A
// ReplicaSet's pod is replaced under a new name.
func (a *api) deletePod(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	opts, aerr := readDeleteOptions(r)
	if aerr != nil {
		return nil, aerr
	}
	return a.deleteOnePod(r.PathValue("namespace"), r.PathValue("name"), opts)
}

// deleteOnePod is deletePod's work, of one pod, with opts.
func (a *api) deleteOnePod(ns, name string, opts deleteOptions) (any, *status.HTTPError) {
	cur, found := a.cluster.Get(cluster.Pods, ns, name)
	if !found {
		return nil, notFound("pods", name)
	}
	if aerr := opts.check(podKind, cur); aerr != nil {
		return nil, aerr
	}
	grace := int64(30)
	if g := cur.(*kube.Pod).Spec.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if g := opts.GracePeriodSeconds; g != nil {
		grace = *g
	}
	grace = max(0, min(grace, 3600))
	p, err := a.cluster.DeletePod(ns, name, grace, cluster.WriteOptions{DryRun: opts.dry})
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		return nil, notFound("pods", name)
	case errors.Is(err, cluster.ErrUnsupported):
		return nil, errMethod
	case err != nil:
		return nil, internalError(fmt.Errorf("delete pod: %w", err))
	}
	return p, nil
}

// deleteObject deletes a Service, Deployment, ReplicaSet or namespace as
// the API server does, its dependents as propagationPolicy says
// (Background by default). An object gone at once is answered as the API
// server does: a Service with itself, the others with a Success Status
// naming it; one held for its dependents (Foreground) or its contents (a
// namespace, Terminating) with itself, marked.
func (a *api) deleteObject(k *kind) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
		opts, aerr := readDeleteOptions(r)
		if aerr != nil {
			return nil, aerr
		}
		return a.deleteOne(k, r.PathValue("namespace"), r.PathValue("name"), opts)
	}
}

// deleteOne is deleteObject's work, of one object of k, with opts.
func (a *api) deleteOne(k *kind, ns, name string, opts deleteOptions) (any, *status.HTTPError) {
	cur, found := a.cluster.Get(k.resource, ns, name)
	if !found {
		return nil, notFoundIn(k, name)
	}
	if aerr := opts.check(k, cur); aerr != nil {
		return nil, aerr
	}
	policy, aerr := opts.propagation(k, name)
	if aerr != nil {
		return nil, aerr
	}
	o, err := a.cluster.Delete(k.resource, ns, name, policy, cluster.WriteOptions{DryRun: opts.dry})
	switch {
	case errors.Is(err, cluster.ErrImmortal):
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusForbidden, "Forbidden",
			fmt.Sprintf("%s %q is forbidden: %v", k.qualified(), name, err), k.details(name))}
	case errors.Is(err, cluster.ErrNotFound):
		return nil, notFoundIn(k, name)
	case errors.Is(err, cluster.ErrUnsupported):
		return nil, errMethod
	case err != nil:
		return nil, internalError(fmt.Errorf("delete %s: %w", k.resource, err))
	}
	if o.Meta().DeletionTimestamp != "" || k == serviceKind {
		return o, nil
	}
	d := k.details(name)
	d.UID = o.Meta().UID
	return &status.Status{Kind: "Status", APIVersion: "v1", Metadata: &status.ListMeta{}, Status: status.Success, Details: d}, nil
}

// deleteCollection deletes what a list of k in the path's namespace holds
// (its label and field selectors), each object as its own DELETE with the
// same options would, and answers with that list, as the API server does:
// the official clients' delete_collection_*. An object gone meanwhile is
// passed over; any other refusal ends the request with it.
func (a *api) deleteCollection(k *kind) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
		opts, aerr := readDeleteOptions(r)
		if aerr != nil {
			return nil, aerr
		}
		sel, aerr := parseSelectors(r.URL.Query(), k.fields)
		if aerr != nil {
			return nil, aerr
		}
		ns := r.PathValue("namespace")
		items, rv := a.cluster.List(k.resource, ns, k.matcher(sel))
		for _, o := range items {
			name := o.Meta().Name
			if k == podKind {
				_, aerr = a.deleteOnePod(ns, name, opts)
			} else {
				_, aerr = a.deleteOne(k, ns, name, opts)
			}
			if aerr != nil && aerr.Status.Code != http.StatusNotFound {
				return nil, aerr
			}
		}
		return k.list(items, kube.ListMeta{ResourceVersion: rv}), nil
	}
}

// dryRunOf reads a write's dryRun values: none, or All (check and answer,
// change nothing), the only one the API server knows.
func dryRunOf(values []string) (bool, *status.HTTPError) {
	for _, v := range values {
		if v != "All" {
			return false, badRequest(fmt.Sprintf("dryRun: Unsupported value: %q: supported values: \"All\"", v))
		}
	}
	return len(values) > 0, nil
}

// objectTooLarge is the 413 of an object over cluster.MaxObjectBytes.
func objectTooLarge(k *kind, name string, err error) *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		fmt.Sprintf("%s %q: %v", k.qualified(), name, err), k.details(name))}
}
