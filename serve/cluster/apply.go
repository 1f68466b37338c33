package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/porthole/porthole/kube"
)

// Server-side apply (kubectl apply --server-side, the official
// clients' apply): a manager sends the fields it wants; the object
// becomes those merged into it, less what the manager set last time and
// no longer sends (unless another manager also set it), refused where
// another manager set a field to something else (unless forced). Every
// write keeps managedFields, as the API server does, so that an apply
// knows who set what.

// The operations of managedFields.
const (
	opApply  = "Apply"
	opUpdate = "Update"
)

// ConflictError is an apply that would change fields other managers set
// (the API server's 409 Conflict with FieldManagerConflict causes).
type ConflictError struct {
	Msg    string
	Causes []ConflictCause
}

// ConflictCause is one conflicting field and whose it is.
type ConflictCause struct{ Manager, Field string }

func (e *ConflictError) Error() string { return e.Msg }

// strippedMeta are the metadata no manager owns.
var strippedMeta = []string{"name", "namespace", "creationTimestamp", "selfLink", "uid", "generation",
	"managedFields", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"}

// owned is the part of doc that managers own: no kind, apiVersion or
// status, no metadata the API server sets. doc is not modified.
func owned(doc any) any {
	m, ok := doc.(map[string]any)
	if !ok {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "apiVersion", "kind", "status":
		case "metadata":
			meta, _ := v.(map[string]any)
			om := map[string]any{}
			for mk, mv := range meta {
				if !slices.Contains(strippedMeta, mk) {
					om[mk] = mv
				}
			}
			if len(om) > 0 {
				out[k] = om
			}
		default:
			out[k] = v
		}
	}
	return out
}

// manager is one managedFields entry's identity and set.
type manager struct {
	entry kube.ManagedFieldsEntry
	set   fieldSet
}

// id names a manager in a conflict, as the API server prints it.
func (m *manager) id() string {
	s := fmt.Sprintf("%q", m.entry.Manager)
	if m.entry.Subresource != "" {
		s += fmt.Sprintf(" with subresource %q", m.entry.Subresource)
	}
	if m.entry.Operation == opUpdate {
		s += " using " + m.entry.APIVersion // no time: a manager is named without it
	}
	return s
}

func (m *manager) is(name, op, subresource string) bool {
	return m.entry.Manager == name && m.entry.Operation == op && m.entry.Subresource == subresource
}

func readManagers(entries []kube.ManagedFieldsEntry) []*manager {
	out := make([]*manager, 0, len(entries))
	for _, e := range entries {
		out = append(out, &manager{entry: e, set: setFromFieldsV1(e.FieldsV1)})
	}
	return out
}

// writeManagers encodes the managers back, those left with no field
// dropped, in the API server's order: Apply first, then by time, name.
func writeManagers(ms []*manager) []kube.ManagedFieldsEntry {
	var out []kube.ManagedFieldsEntry
	for _, m := range ms {
		if len(m.set) == 0 {
			continue
		}
		e := m.entry
		e.FieldsType, e.FieldsV1 = "FieldsV1", m.set.fieldsV1()
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		p, q := out[i], out[j]
		if p.Operation != q.Operation {
			return p.Operation < q.Operation
		}
		if p.Time != q.Time {
			return p.Time < q.Time
		}
		if p.Manager != q.Manager {
			return p.Manager < q.Manager
		}
		return p.Subresource < q.Subresource
	})
	return out
}

// find is the entry of name, op and subresource in ms, added if new.
func find(ms []*manager, name, op, subresource, apiVersion string) ([]*manager, *manager) {
	for _, m := range ms {
		if m.is(name, op, subresource) {
			return ms, m
		}
	}
	m := &manager{entry: kube.ManagedFieldsEntry{Manager: name, Operation: op, APIVersion: apiVersion, Subresource: subresource}, set: fieldSet{}}
	return append(ms, m), m
}

// schemaFor is the merge schema of an object kind.
func schemaFor(kind string) *schema {
	switch kind {
	case "Pod", "Deployment", "ReplicaSet":
		return &podSchema
	case "Service":
		return &serviceSchema
	}
	return &metaSchema
}

// updateManaged is the managedFields of after, written over before (nil
// for a create, its managedFields entries) by a write that is not an
// apply: the fields it changed, but those unowned, become the writer's,
// and are no longer anyone else's.
func updateManaged(before, after Object, entries []kube.ManagedFieldsEntry, now string, w WriteOptions, unowned ...fieldPath) []kube.ManagedFieldsEntry {
	if w.Manager == "" {
		return entries
	}
	doc, _ := jsonOf(after).(map[string]any)
	kind, _ := doc["kind"].(string)
	apiVersion, _ := doc["apiVersion"].(string)
	sc := schemaFor(kind)
	var oldDoc any = map[string]any{}
	if before != nil {
		oldDoc = owned(jsonOf(before))
	}
	newDoc := owned(doc)
	// What the write added (a map with what is in it) or changed.
	oldIdx, newIdx := sc.index(oldDoc, true), sc.index(newDoc, true)
	for p, v := range sc.index(skeleton(kind), true) {
		if _, ok := oldIdx[p]; !ok {
			oldIdx[p] = v // there, if empty: not added by this write
		}
	}
	newParents := keysOf(newIdx).parents()
	changed := fieldSet{}
	for p, nv := range newIdx {
		ov, had := oldIdx[p]
		if !had || (!newParents.has(p) && !sameValue(ov, nv)) {
			changed[p] = struct{}{}
		}
	}
	for _, p := range unowned {
		delete(changed, p)
	}
	ms := readManagers(entries)
	for _, m := range ms {
		for p := range m.set {
			_, was := oldIdx[p]
			_, is := newIdx[p]
			if changed.has(p) || (was && !is) {
				delete(m.set, p)
			}
		}
	}
	if len(changed) > 0 {
		var m *manager
		ms, m = find(ms, w.Manager, opUpdate, w.Subresource, apiVersion)
		for p := range changed {
			m.set[p] = struct{}{}
		}
		m.entry.Time = now
	}
	return writeManagers(ms)
}

// createdManagedLocked is the managedFields of o, created from applied
// (its JSON before defaults): an apply owns what it sent (its document,
// when the options carry it), another create all the object has.
func (c *Cluster) createdManagedLocked(applied any, o Object, opts []WriteOptions) []kube.ManagedFieldsEntry {
	w := options(opts)
	if !w.ServerSide {
		// What the API server allocates after its field manager ran is
		// nobody's, unless the create sent it.
		var unowned []fieldPath
		if _, ok := o.(*kube.Service); ok {
			sent := serviceSchema.index(owned(applied), false)
			for _, f := range []string{"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} {
				if p := fieldPath("f:spec").child("f:" + f); sent[p] == nil {
					unowned = append(unowned, p)
				}
			}
		}
		return updateManaged(nil, o, nil, timestamp(c.now()), w, unowned...)
	}
	doc, _ := jsonOf(o).(map[string]any)
	kind, _ := doc["kind"].(string)
	apiVersion, _ := doc["apiVersion"].(string)
	var sent any
	if json.Unmarshal(w.Applied, &sent) == nil {
		applied = sent
	}
	set := schemaFor(kind).set(owned(applied))
	return writeManagers([]*manager{{entry: kube.ManagedFieldsEntry{Manager: w.Manager, Operation: opApply,
		APIVersion: apiVersion, Time: timestamp(c.now())}, set: set}})
}

// skeleton is what the API server holds of a kind before its create:
// the parts that are structs, and the lists it writes out even empty (a
// pod's containers), never absent. A create adds the rest, and owns the
// maps and lists it adds (labels, owner references, a container's env)
// with their contents.
func skeleton(kind string) map[string]any {
	switch kind {
	case "Deployment":
		return map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"strategy": map[string]any{},
			"template": map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"containers": nil}}}}
	case "ReplicaSet":
		return map[string]any{"metadata": map[string]any{}, "spec": map[string]any{
			"template": map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"containers": nil}}}}
	case "Pod":
		return map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"containers": nil}}
	case "Service", "Namespace":
		return map[string]any{"metadata": map[string]any{}, "spec": map[string]any{}}
	}
	return map[string]any{"metadata": map[string]any{}}
}

// serverSideApply returns the change that applies cfg (an object of kind
// and apiVersion, as JSON) for manager: the merged document, its
// managedFields set in it. force takes conflicting fields over.
func serverSideApply(cfg []byte, kind, apiVersion, name, now string, w WriteOptions) (func(doc any) (any, error), error) {
	var c any
	if err := json.Unmarshal(cfg, &c); err != nil {
		return nil, fmt.Errorf("error decoding patch: %w", err)
	}
	cm, ok := c.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("error decoding patch: an apply patch must be an object")
	}
	if depth(cm, 0) > maxPatchDepth {
		return nil, fmt.Errorf("error decoding patch: nested deeper than %d", maxPatchDepth)
	}
	v, _ := cm["apiVersion"].(string)
	if k, _ := cm["kind"].(string); k != kind || v != apiVersion {
		return nil, fmt.Errorf("invalid object type: %s, Kind=%s", v, k)
	}
	if meta, _ := cm["metadata"].(map[string]any); meta != nil {
		if n, ok := meta["name"].(string); ok && n != name {
			return nil, fmt.Errorf("the name of the object (%s) does not match the name on the URL (%s)", n, name)
		}
	}
	sc := schemaFor(kind)
	rv := resourceVersionOf(cm) // a precondition, as in any patch
	applied := owned(cm)
	if err := sc.check("", "", applied); err != nil {
		return nil, invalidError(err)
	}
	cfgIdx := sc.index(applied, false)
	newSet := keysOf(cfgIdx)
	newParents := newSet.parents()
	return func(doc any) (any, error) {
		dm, _ := doc.(map[string]any)
		if dm == nil {
			dm = map[string]any{}
		}
		if rv != "" && rv != resourceVersionOf(dm) {
			return nil, ErrConflict
		}
		var entries []kube.ManagedFieldsEntry
		if meta, _ := dm["metadata"].(map[string]any); meta != nil {
			b, _ := json.Marshal(meta["managedFields"])
			_ = json.Unmarshal(b, &entries)
		}
		liveIdx := sc.index(owned(dm), true)
		ms, me := find(readManagers(entries), w.Manager, opApply, "", apiVersion)
		var conflicts []ConflictCause
		var taken []func()
		for _, m := range ms {
			if m == me {
				continue
			}
			for p := range m.set {
				cv, applies := cfgIdx[p]
				if !applies || newParents.has(p) {
					continue // not applied, or a map of what is
				}
				if lv := liveIdx[p]; !sameValue(lv, cv) {
					conflicts = append(conflicts, ConflictCause{Manager: m.id(), Field: p.String()})
					taken = append(taken, func() { delete(m.set, p) })
				}
			}
		}
		if len(conflicts) > 0 && !w.Force {
			return nil, conflictError(conflicts)
		}
		for _, take := range taken {
			take()
		}
		merged := sc.merge(dm, applied, "", "").(map[string]any)
		// What the manager set before and no longer applies goes, unless
		// another manager has it or a part of it.
		others := fieldSet{}
		for _, m := range ms {
			if m != me {
				for p := range m.set {
					others[p] = struct{}{}
				}
			}
		}
		othersParents := others.parents()
		gone := fieldSet{}
		for p := range me.set {
			if newSet.has(p) || newParents.has(p) || others.has(p) || othersParents.has(p) {
				continue
			}
			gone[p] = struct{}{}
		}
		if len(gone) > 0 {
			merged = sc.prune(merged, gone, "", "").(map[string]any)
		}
		if !sameSet(me.set, newSet) || me.entry.Time == "" {
			me.entry.Time = now
		}
		me.entry.APIVersion = apiVersion
		me.set = newSet
		meta, _ := merged["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			merged["metadata"] = meta
		}
		meta["managedFields"] = jsonOf(writeManagers(ms))
		return merged, nil
	}, nil
}

func sameSet(a, b fieldSet) bool {
	if len(a) != len(b) {
		return false
	}
	for p := range a {
		if !b.has(p) {
			return false
		}
	}
	return true
}

// conflictError words conflicts as the API server does.
func conflictError(cs []ConflictCause) *ConflictError {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Manager != cs[j].Manager {
			return cs[i].Manager < cs[j].Manager
		}
		return cs[i].Field < cs[j].Field
	})
	if len(cs) == 1 {
		return &ConflictError{Causes: cs, Msg: fmt.Sprintf("Apply failed with 1 conflict: conflict with %s: %s", cs[0].Manager, cs[0].Field)}
	}
	var lines []string
	last := ""
	for _, c := range cs {
		if c.Manager != last {
			lines = append(lines, fmt.Sprintf("conflicts with %s:", c.Manager))
			last = c.Manager
		}
		lines = append(lines, "- "+c.Field)
	}
	return &ConflictError{Causes: cs, Msg: fmt.Sprintf("Apply failed with %d conflicts: %s", len(cs), strings.Join(lines, "\n"))}
}

// applying is the options of a server-side apply: fields porthole does
// not model are ignored, as kubectl apply's.
func applying(opts []WriteOptions) []WriteOptions {
	o := options(opts)
	o.ServerSide, o.Apply = true, true
	return []WriteOptions{o}
}

func (c *Cluster) applier(cfg []byte, kind, apiVersion, name string, opts []WriteOptions) (func(any) (any, error), error) {
	return serverSideApply(cfg, kind, apiVersion, name, timestamp(c.now()), options(opts))
}

// ApplyDeployment applies cfg, server-side, to a Deployment; ErrNotFound
// if there is none (the caller creates it from cfg).
func (c *Cluster) ApplyDeployment(namespace, name string, cfg []byte, opts ...WriteOptions) (*kube.Deployment, error) {
	apply, err := c.applier(cfg, "Deployment", "apps/v1", name, opts)
	if err != nil {
		return nil, err
	}
	return c.patchDeployment(namespace, name, apply, applying(opts))
}

// ApplyService applies cfg, server-side, to a Service.
func (c *Cluster) ApplyService(namespace, name string, cfg []byte, opts ...WriteOptions) (*kube.Service, error) {
	apply, err := c.applier(cfg, "Service", "v1", name, opts)
	if err != nil {
		return nil, err
	}
	return c.patchService(namespace, name, apply, applying(opts))
}

// ApplyPod applies cfg, server-side, to a pod.
func (c *Cluster) ApplyPod(namespace, name string, cfg []byte, opts ...WriteOptions) (*kube.Pod, error) {
	apply, err := c.applier(cfg, "Pod", "v1", name, opts)
	if err != nil {
		return nil, err
	}
	return c.patchPod(namespace, name, apply, applying(opts))
}

// ApplyConfigMap applies cfg, server-side, to a ConfigMap.
func (c *Cluster) ApplyConfigMap(namespace, name string, cfg []byte, opts ...WriteOptions) (*kube.ConfigMap, error) {
	apply, err := c.applier(cfg, "ConfigMap", "v1", name, opts)
	if err != nil {
		return nil, err
	}
	return c.patchConfigMap(namespace, name, apply, applying(opts))
}

// ApplyNamespace applies cfg, server-side, to a namespace.
func (c *Cluster) ApplyNamespace(_, name string, cfg []byte, opts ...WriteOptions) (*kube.Namespace, error) {
	apply, err := c.applier(cfg, "Namespace", "v1", name, opts)
	if err != nil {
		return nil, err
	}
	return c.patchNamespace(name, apply, applying(opts))
}
