package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/porthole/porthole/kube"
)

// InvalidError is a change that would make an object invalid (the API
// server's 422 Invalid): Msg, the API server's message, and its Causes,
// each "field: reason", when validation told them apart.
type InvalidError struct {
	Msg    string
	Causes []string
}

func (e *InvalidError) Error() string { return e.Msg }

// invalidError is err, a validation's, as an InvalidError: a
// kube.FieldErrors' problems are its causes.
func invalidError(err error) *InvalidError {
	e := &InvalidError{Msg: err.Error()}
	if fes, ok := errors.AsType[kube.FieldErrors](err); ok {
		e.Causes = fes
	}
	return e
}

// maxPatchDepth bounds the nesting of a patch document.
const maxPatchDepth = 32

// PatchDeployment applies a JSON merge patch (RFC 7386) to a Deployment:
// lists are replaced whole. Only metadata labels and annotations and the
// spec may change; a spec change bumps the generation, and a new template
// rolls the pods out.
func (c *Cluster) PatchDeployment(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Deployment, error) {
	apply, err := merger(patch, mergePatch, mergeFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchDeployment(namespace, name, apply, opts)
}

// StrategicPatchDeployment applies a strategic merge patch, as kubectl
// set image, set env, rollout restart and apply send, to a Deployment,
// with PatchDeployment's rules: the lists of containers, their ports and
// environment merge by their keys, so that a patch naming one container's
// image keeps everything else of it.
func (c *Cluster) StrategicPatchDeployment(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Deployment, error) {
	apply, err := merger(patch, strategicMerge, strategicFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchDeployment(namespace, name, apply, opts)
}

// merger decodes a merge patch (plain or strategic) and returns its
// application by merge, validated.
func merger(patch []byte, merge func(doc, patch any) any, flavour patchFlavour, opts []WriteOptions) (func(any) (any, error), error) {
	pm, err := decodeMergePatch(patch)
	if err != nil {
		return nil, err
	}
	return validated(patch, flavour, func(doc any) (any, error) { return merge(doc, pm), nil }, opts), nil
}

func decodeMergePatch(patch []byte) (map[string]any, error) {
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, fmt.Errorf("decode patch: %w", err)
	}
	pm, ok := p.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode patch: a merge patch must be a JSON object")
	}
	if depth(pm, 0) > maxPatchDepth {
		return nil, fmt.Errorf("decode patch: nested deeper than %d", maxPatchDepth)
	}
	return pm, nil
}

// JSONPatchDeployment applies a JSON Patch (RFC 6902), as kubectl rollout
// undo sends, to a Deployment, with PatchDeployment's rules.
func (c *Cluster) JSONPatchDeployment(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Deployment, error) {
	return c.patchDeployment(namespace, name, jsonPatcher(patch, opts), opts)
}

// WriteOptions say how a write is taken.
type WriteOptions struct {
	// Apply is a patch kubectl apply made from a manifest: a pod's
	// fields porthole does not model are ignored, as they were when the
	// manifest created it (kubectl patches them back every time, since the
	// pod never has them), rather than refused. (Deployments and Services
	// keep such fields: see kube.Deployment.Unmodeled.)
	Apply bool
	// DryRun checks the write and answers what it would give, changing
	// nothing (dryRun=All: kubectl diff, --dry-run=server).
	DryRun bool
	// ResourceVersion, when set, is the version the write was made
	// against: if the object has changed since, ErrConflict.
	ResourceVersion string
	// Manager is who writes (the request's fieldManager, or its user
	// agent's first word): the fields the write sets become its, in the
	// object's managedFields. None: managedFields stay as they were.
	Manager string
	// Subresource is the one written through (scale), as managedFields
	// record it.
	Subresource string
	// ServerSide is a server-side apply by Manager; Force takes the
	// fields it sets over from other managers rather than refusing.
	ServerSide, Force bool
	// Applied is a create's apply document (JSON): the fields its
	// manager owns, as sent, whatever porthole models of them.
	Applied []byte
	// FieldValidation is what a patch naming fields its kind has not
	// gets: ValidationStrict refuses it (FieldsError), ValidationWarn
	// passes each problem to Warn; either way, and with ValidationIgnore
	// or none, the unknown fields are dropped.
	FieldValidation string
	Warn            func(string)
}

// managedLocked is the managedFields of after, a write of before: an
// apply's as it computed them, another write's by what it changed.
// written are the managedFields the write left in the object (for an
// apply, those it computed): a write may set them (kubectl does, moving
// an object from client-side apply to server-side), or clear them with
// a single empty entry; nil for a write that cannot (a subresource's).
func (c *Cluster) managedLocked(before, after Object, written []kube.ManagedFieldsEntry, opts []WriteOptions) []kube.ManagedFieldsEntry {
	w := options(opts)
	if w.ServerSide {
		return written
	}
	base := before.Meta().ManagedFields
	switch {
	case len(written) == 1 && reflect.ValueOf(written[0]).IsZero():
		base = nil
	case len(written) > 0:
		base = written
	}
	return updateManaged(before, after, base, timestamp(c.now()), w)
}

func options(opts []WriteOptions) WriteOptions {
	if len(opts) > 0 {
		return opts[0]
	}
	return WriteOptions{}
}

// patchJSON changes o's JSON form with apply and decodes the result as
// a T; a spec field the result sets that T does not keep (spec says what
// it keeps) is refused unless the patch is kubectl apply's.
func patchJSON[T any](o any, apply func(doc any) (any, error), spec func(*T) any, opts []WriteOptions) (*T, error) {
	patched, u, err := patchDoc[T](o, apply)
	if err != nil {
		return nil, err
	}
	if pm, ok := patched.(map[string]any); ok && !options(opts).Apply {
		if err := unsupported("spec", pm["spec"], spec(u)); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// patchDoc changes o's JSON form with apply and returns the result, and
// it decoded as a T.
func patchDoc[T any](o any, apply func(doc any) (any, error)) (any, *T, error) {
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, err
	}
	live := resourceVersionOf(doc) // before apply, which may change doc
	patched, err := apply(doc)
	if err != nil {
		return nil, nil, err
	}
	// A write that names a resourceVersion is made against it, as the API
	// server takes it: another one is a conflict.
	if rv := resourceVersionOf(patched); rv != "" && rv != live {
		return nil, nil, ErrConflict
	}
	merged, err := json.Marshal(patched)
	if err != nil {
		return nil, nil, err
	}
	u := new(T)
	if err := json.Unmarshal(merged, u); err != nil {
		return nil, nil, invalidError(err)
	}
	return patched, u, nil
}

// resourceVersionOf is a JSON document's metadata.resourceVersion.
func resourceVersionOf(doc any) string {
	m, _ := doc.(map[string]any)
	meta, _ := m["metadata"].(map[string]any)
	rv, _ := meta["resourceVersion"].(string)
	return rv
}

// unsupported refuses a field of want (a written document's part at
// path) that kept (what porthole decoded of it) lacks.
func unsupported(path string, want, kept any) error {
	if p := dropped(path, want, jsonOf(kept)); p != "" {
		return &InvalidError{Msg: p + ": Forbidden: porthole does not support this field"}
	}
	return nil
}

// specOf is the spec of o as its JSON has it: for a Deployment or Service,
// with the fields porthole keeps without modelling them.
func specOf[T any](o *T) any {
	doc, _ := jsonOf(o).(map[string]any)
	return doc["spec"]
}

// patchDeployment changes a Deployment's JSON form with apply, then
// keeps what may change.
func (c *Cluster) patchDeployment(namespace, name string, apply func(doc any) (any, error), opts []WriteOptions) (*kube.Deployment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[Deployments][key{namespace, name}]
	if !ok {
		return nil, ErrNotFound
	}
	d := o.(*kube.Deployment)
	if rv := options(opts).ResourceVersion; rv != "" && rv != d.ResourceVersion {
		return nil, ErrConflict
	}
	pu, err := patchJSON(d, apply, specOf[kube.Deployment], opts)
	if err != nil {
		return nil, err
	}
	u := *pu
	// What the API server owns stays as it was.
	labels, annotations, spec, unmodeled := u.Labels, u.Annotations, u.Spec, u.Unmodeled
	u = *clone(d)
	u.Labels, u.Annotations = labels, annotations
	if err := (&kube.Deployment{ObjectMeta: kube.ObjectMeta{Name: d.Name, Namespace: d.Namespace, Labels: labels, Annotations: annotations}, Spec: spec}).Validate(); err != nil {
		return nil, invalidError(err)
	}
	if !sameJSON(spec.Selector, d.Spec.Selector) {
		return nil, &InvalidError{Msg: "spec.selector: Invalid value: field is immutable"}
	}
	defaultDeploymentSpec(&spec)
	if !sameJSON(spec, d.Spec) || !sameJSON(unmodeled, d.Unmodeled) {
		u.Spec, u.Unmodeled = spec, unmodeled
		u.Generation++
	}
	u.ManagedFields = c.managedLocked(d, &u, pu.ManagedFields, opts)
	if sameJSON(&u, d) {
		return d, nil
	}
	if err := checkSize(&u); err != nil {
		return nil, err
	}
	if options(opts).DryRun {
		return &u, nil
	}
	c.storeLocked(Deployments, "MODIFIED", &u)
	c.reconcileLocked()
	return c.objs[Deployments][key{namespace, name}].(*kube.Deployment), nil
}

// mergePatch applies patch to doc as RFC 7386 says: null removes, objects
// merge, anything else replaces.
func mergePatch(doc any, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = mergePatch(dm[k], v)
	}
	return dm
}

func depth(v any, d int) int {
	switch t := v.(type) {
	case map[string]any:
		m := d + 1
		for _, e := range t {
			m = max(m, depth(e, d+1))
		}
		return m
	case []any:
		m := d + 1
		for _, e := range t {
			m = max(m, depth(e, d+1))
		}
		return m
	}
	return d
}

// ErrConflict is a write whose resourceVersion precondition no longer
// holds (the API server's 409 Conflict).
var ErrConflict = errors.New("the object has been modified; please apply your changes to the latest version and try again")

// ScaleDeployment sets a Deployment's replicas, as its scale subresource
// does; a non-empty resourceVersion must be the Deployment's current one.
func (c *Cluster) ScaleDeployment(namespace, name string, replicas int32, resourceVersion string, opts ...WriteOptions) (*kube.Deployment, error) {
	if replicas < 0 {
		return nil, &InvalidError{Msg: fmt.Sprintf("spec.replicas: Invalid value: %d: must be greater than or equal to 0", replicas)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[Deployments][key{namespace, name}]
	if !ok {
		return nil, ErrNotFound
	}
	d := o.(*kube.Deployment)
	if resourceVersion != "" && resourceVersion != d.ResourceVersion {
		return nil, ErrConflict
	}
	if kube.Replicas(d.Spec.Replicas) == replicas {
		return d, nil
	}
	u := clone(d)
	u.Spec.Replicas = ptr(replicas)
	u.Generation++
	u.ManagedFields = c.managedLocked(d, u, nil, opts)
	if options(opts).DryRun {
		return u, nil
	}
	c.storeLocked(Deployments, "MODIFIED", u)
	c.reconcileLocked()
	return c.objs[Deployments][key{namespace, name}].(*kube.Deployment), nil
}

// dropped is the path of the first value of want that got, its typed
// round trip, lost: a field porthole does not model, which a patch must
// not set as if it took effect. Empty values (null, false, 0, "", {},
// []) are as good as absent.
func dropped(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if p := dropped(path+"."+k, w[k], g[k]); p != "" {
				return p
			}
		}
	case []any:
		g, _ := got.([]any)
		for i, e := range w {
			var ge any
			if i < len(g) {
				ge = g[i]
			}
			if p := dropped(path+"["+strconv.Itoa(i)+"]", e, ge); p != "" {
				return p
			}
		}
	default:
		if got == nil && want != nil && want != false && want != float64(0) && want != "" {
			return path
		}
	}
	return ""
}

// jsonOf is v's JSON form, decoded.
func jsonOf(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}

// PatchService applies a JSON merge patch to a Service: its labels,
// annotations and spec may change, not its cluster IP.
func (c *Cluster) PatchService(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Service, error) {
	apply, err := merger(patch, mergePatch, mergeFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchService(namespace, name, apply, opts)
}

// StrategicPatchService applies a strategic merge patch (kubectl apply's)
// to a Service: its ports merge by port.
func (c *Cluster) StrategicPatchService(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Service, error) {
	apply, err := merger(patch, serviceKeys.merge, strategicFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchService(namespace, name, apply, opts)
}

// JSONPatchService applies a JSON Patch to a Service.
func (c *Cluster) JSONPatchService(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Service, error) {
	return c.patchService(namespace, name, jsonPatcher(patch, opts), opts)
}

func (c *Cluster) patchService(namespace, name string, apply func(doc any) (any, error), opts []WriteOptions) (*kube.Service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[Services][key{namespace, name}]
	if !ok {
		return nil, ErrNotFound
	}
	s := o.(*kube.Service)
	if rv := options(opts).ResourceVersion; rv != "" && rv != s.ResourceVersion {
		return nil, ErrConflict
	}
	p, err := patchJSON(s, apply, specOf[kube.Service], opts)
	if err != nil {
		return nil, err
	}
	u := clone(s)
	u.Labels, u.Annotations, u.Spec, u.Unmodeled = p.Labels, p.Annotations, p.Spec, p.Unmodeled
	switch ip := u.Spec.ClusterIP; {
	case ip == "":
		u.Spec.ClusterIP = s.Spec.ClusterIP
	case ip != s.Spec.ClusterIP:
		return nil, &InvalidError{Msg: fmt.Sprintf("spec.clusterIP: Invalid value: %q: field is immutable", ip)}
	}
	if err := u.Validate(); err != nil {
		return nil, invalidError(err)
	}
	c.defaultService(u)
	u.ManagedFields = c.managedLocked(s, u, p.ManagedFields, opts)
	if err := checkSize(u); err != nil {
		return nil, err
	}
	if sameJSON(u, s) || options(opts).DryRun {
		return u, nil
	}
	c.storeLocked(Services, "MODIFIED", u)
	return u, nil
}

// PatchPod applies a JSON merge patch to a pod: its labels and
// annotations may change, and its containers' images; nothing else of its
// spec, as the API server says.
func (c *Cluster) PatchPod(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Pod, error) {
	apply, err := merger(patch, mergePatch, mergeFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchPod(namespace, name, apply, opts)
}

// StrategicPatchPod applies a strategic merge patch (kubectl label's,
// annotate's, apply's) to a pod.
func (c *Cluster) StrategicPatchPod(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Pod, error) {
	apply, err := merger(patch, strategicMerge, strategicFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchPod(namespace, name, apply, opts)
}

// JSONPatchPod applies a JSON Patch to a pod.
func (c *Cluster) JSONPatchPod(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Pod, error) {
	return c.patchPod(namespace, name, jsonPatcher(patch, opts), opts)
}

// podUpdateForbidden is the API server's refusal of a pod spec change.
const podUpdateForbidden = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

func (c *Cluster) patchPod(namespace, name string, apply func(doc any) (any, error), opts []WriteOptions) (*kube.Pod, error) {
	if c.runner == nil {
		return nil, ErrUnsupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[Pods][key{namespace, name}]
	if !ok {
		return nil, ErrNotFound
	}
	p := o.(*kube.Pod)
	if rv := options(opts).ResourceVersion; rv != "" && rv != p.ResourceVersion {
		return nil, ErrConflict
	}
	patched, err := patchJSON(p, apply, func(u *kube.Pod) any { return u.Spec }, opts)
	if err != nil {
		return nil, err
	}
	// The images may change; with them put back, the spec must be the
	// same, once defaulted (an update may send it as a manifest has it).
	patched.Spec.Default()
	spec := clone(patched.Spec)
	for _, cs := range [][]kube.Container{spec.Containers, spec.InitContainers} {
		for i := range cs {
			if old := findContainer(p, cs[i].Name); old != nil {
				cs[i].Image = old.Image
			}
		}
	}
	if !sameJSON(spec, p.Spec) {
		return nil, &InvalidError{Msg: podUpdateForbidden}
	}
	u := clone(p)
	u.Labels, u.Annotations, u.Spec = patched.Labels, patched.Annotations, patched.Spec
	if err := u.Validate(); err != nil {
		return nil, invalidError(err)
	}
	u.ManagedFields = c.managedLocked(p, u, patched.ManagedFields, opts)
	if err := checkSize(u); err != nil {
		return nil, err
	}
	if sameJSON(u, p) || options(opts).DryRun {
		return u, nil
	}
	c.storeLocked(Pods, "MODIFIED", u)
	c.wake() // its owner may release it, a Service select it
	return u, nil
}

func findContainer(p *kube.Pod, name string) *kube.Container {
	for _, cs := range [][]kube.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	return nil
}

// replaceWith is an update's change: the object becomes body, as far as
// a write may change it (labels, annotations, spec); what porthole does
// not model is ignored, as at create.
func replaceWith(body []byte) func(any) (any, error) {
	return func(any) (any, error) {
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, fmt.Errorf("decode body: %w", err)
		}
		return doc, nil
	}
}

func updating(opts []WriteOptions) []WriteOptions {
	o := options(opts)
	o.Apply = true
	return []WriteOptions{o}
}

// UpdateDeployment replaces a Deployment (PUT: kubectl replace,
// client-go's Update): its labels, annotations and spec become body's.
func (c *Cluster) UpdateDeployment(namespace, name string, body []byte, opts ...WriteOptions) (*kube.Deployment, error) {
	return c.patchDeployment(namespace, name, replaceWith(body), updating(opts))
}

// UpdateService replaces a Service, its cluster IP staying.
func (c *Cluster) UpdateService(namespace, name string, body []byte, opts ...WriteOptions) (*kube.Service, error) {
	return c.patchService(namespace, name, replaceWith(body), updating(opts))
}

// UpdatePod replaces a pod, as far as a pod may change.
func (c *Cluster) UpdatePod(namespace, name string, body []byte, opts ...WriteOptions) (*kube.Pod, error) {
	return c.patchPod(namespace, name, replaceWith(body), updating(opts))
}
