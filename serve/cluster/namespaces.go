package cluster

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/porthole/porthole/kube"
)

// Namespaces are stored objects too, cluster-scoped (their key's
// namespace is ""). A namespace is created as the API server creates it;
// deleting one marks it Terminating, and the namespace controller (in
// the controllers' loop) then deletes everything in it and, once it is
// empty, the namespace itself.
const Namespaces Resource = "namespaces"

// builtinNamespaces are those every cluster starts with.
var builtinNamespaces = []string{"default", "kube-node-lease", "kube-public", "kube-system"}

// immortalNamespaces may not be deleted, as the API server's
// NamespaceLifecycle admission says.
var immortalNamespaces = []string{"default", "kube-public", "kube-system"}

// namespaceFinalizer is the spec finalizer that holds a terminating
// namespace until the namespace controller has emptied it.
const namespaceFinalizer = "kubernetes"

// namespaceSettle is how long a terminating namespace keeps its contents
// before the namespace controller deletes them. A real controller comes
// to a deleted namespace after its informer, discovery and lists, which
// is why kubectl delete -f of a manifest that holds a namespace and
// objects in it finds the objects still there to delete; deleting them
// at once would make it fail on each.
const namespaceSettle = time.Second

// nameLabel is the label the API server sets on every namespace, naming
// it, so that selectors can pick namespaces by name.
const nameLabel = "kubernetes.io/metadata.name"

// ErrImmortal is the delete of a namespace that may not be deleted.
var ErrImmortal = errors.New("this namespace may not be deleted")

// TerminatingError is a create in a namespace being deleted.
type TerminatingError struct{ Namespace string }

func (e *TerminatingError) Error() string {
	return fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", e.Namespace)
}

// newNamespace is a namespace as the API server stores a new one: named
// by its label, held by the kubernetes finalizer, Active.
func newNamespace(ns *kube.Namespace) {
	ns.TypeMeta = kube.TypeMeta{Kind: "Namespace", APIVersion: "v1"}
	ns.Namespace = ""
	ns.Labels = maps.Clone(ns.Labels)
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[nameLabel] = ns.Name
	ns.Spec = kube.NamespaceSpec{Finalizers: []string{namespaceFinalizer}}
	ns.Status = kube.NamespaceStatus{Phase: "Active"}
}

// seedNamespacesLocked stores, at New, the builtin namespaces, those of
// manifest, and every namespace an object of objs is in.
func (c *Cluster) seedNamespacesLocked(manifest []*kube.Namespace, objs Objects) error {
	now := c.now()
	for _, ns := range manifest {
		if err := ns.Validate(); err != nil {
			return fmt.Errorf("namespace %s: %w", ns.Name, err)
		}
		ns = clone(ns)
		ns.UID = seededUID(ns.Name)
		defaultMeta(&ns.ObjectMeta, now)
		newNamespace(ns)
		if err := c.insert(Namespaces, ns); err != nil {
			return err
		}
	}
	names := slices.Clone(builtinNamespaces)
	for _, p := range objs.Pods {
		names = append(names, p.Namespace)
	}
	for _, s := range objs.Services {
		names = append(names, s.Namespace)
	}
	for _, d := range objs.Deployments {
		names = append(names, d.Namespace)
	}
	for _, rs := range objs.ReplicaSets {
		names = append(names, rs.Namespace)
	}
	for _, cm := range objs.ConfigMaps {
		names = append(names, cm.Namespace)
	}
	for _, s := range objs.Secrets {
		names = append(names, s.Namespace)
	}
	for _, name := range names {
		if name == "" {
			name = kube.DefaultNamespace
		}
		if _, ok := c.objs[Namespaces][key{"", name}]; ok {
			continue
		}
		ns := &kube.Namespace{ObjectMeta: kube.ObjectMeta{Name: name, UID: seededUID(name)}}
		defaultMeta(&ns.ObjectMeta, now)
		newNamespace(ns)
		c.storeLocked(Namespaces, "ADDED", ns)
	}
	return nil
}

// seededUID is the UID of a namespace the cluster starts with: the same
// on every start, as the namespaces are. Created ones get random UIDs.
func seededUID(name string) string { return kube.StableUID("namespace/" + name) }

// CreateNamespace adds a namespace (kubectl create namespace): named,
// or named from its generateName, a DNS-1123 label.
func (c *Cluster) CreateNamespace(ns *kube.Namespace, opts ...WriteOptions) (*kube.Namespace, error) {
	ns = clone(ns)
	ns.Namespace = "" // not in one: the API server clears it
	err := c.create(Namespaces, &ns.ObjectMeta, ns.Validate, func() error {
		newNamespace(ns)
		return nil
	}, ns, opts)
	if err != nil {
		return nil, err
	}
	return ns, nil
}

// checkNamespaceLocked says whether objects may be created in name: nil
// when it exists and is active.
func (c *Cluster) checkNamespaceLocked(name string) error {
	o, ok := c.objs[Namespaces][key{"", name}]
	switch {
	case !ok:
		return fmt.Errorf("namespace %q: %w", name, ErrNotFound)
	case o.Meta().DeletionTimestamp != "":
		return &TerminatingError{Namespace: name}
	}
	return nil
}

// deleteNamespaceLocked marks a namespace Terminating, as the API server's
// first delete of it does; the namespace controller does the rest.
func (c *Cluster) deleteNamespaceLocked(o Object, dryRun bool) (Object, error) {
	ns := o.(*kube.Namespace)
	if slices.Contains(immortalNamespaces, ns.Name) {
		return nil, ErrImmortal
	}
	if ns.DeletionTimestamp != "" {
		return ns, nil
	}
	if c.runner == nil && len(c.listLocked(Pods, ns.Name, nil)) > 0 {
		return nil, fmt.Errorf("delete the pods of namespace %s: %w", ns.Name, ErrUnsupported)
	}
	u := clone(ns)
	u.DeletionTimestamp = timestamp(c.now())
	u.Status.Phase = "Terminating"
	if dryRun {
		return u, nil
	}
	c.storeLocked(Namespaces, "MODIFIED", u)
	c.terminating[ns.Name] = c.now().Add(namespaceSettle)
	c.wake()
	return u, nil
}

// settleDeadlineLocked is when the next terminating namespace settles,
// or zero.
func (c *Cluster) settleDeadlineLocked(now time.Time) time.Time {
	var next time.Time
	for _, at := range c.terminating {
		if at.After(now) && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// contained are the resources whose objects live in a namespace, deleted
// with it: workloads before the pods they would replace, events last
// (deleting a pod tells of it).
var contained = []Resource{Deployments, ReplicaSets, Services, Pods, ConfigMaps, Secrets, Events}

// finalizeNamespacesLocked is the namespace controller: once a
// terminating namespace has settled, it deletes what the namespace holds
// (pods with their grace period) and, once nothing is left, the
// namespace.
func (c *Cluster) finalizeNamespacesLocked() {
	if len(c.terminating) == 0 { // every terminating namespace is there
		return
	}
	now := c.now()
	for _, o := range c.listLocked(Namespaces, "", func(o Object) bool { return !live(o) }) {
		name, left := o.Meta().Name, false
		if at, ok := c.terminating[name]; ok && now.Before(at) {
			continue
		}
		for _, res := range contained {
			for _, obj := range c.listLocked(res, name, nil) {
				m := obj.Meta()
				if res == Pods {
					if c.runner == nil { // cannot stop it: the namespace stays
						left = true
						continue
					}
					p := obj.(*kube.Pod)
					c.deletePodLocked(p, podGrace(p))
					if _, still := c.objs[Pods][key{name, m.Name}]; still {
						left = true
					}
					continue
				}
				c.deleteLocked(res, key{name, m.Name})
			}
		}
		if !left {
			c.deleteLocked(Namespaces, key{"", name})
			delete(c.terminating, name)
		}
	}
}

// PatchNamespace applies a JSON merge patch to a namespace: its labels
// and annotations may change; its spec and status are the API server's
// (finalizers change through finalize), and stay. The namespace is
// called "" and the name is the namespace's, as for namespaced kinds.
func (c *Cluster) PatchNamespace(_, name string, patch []byte, opts ...WriteOptions) (*kube.Namespace, error) {
	apply, err := merger(patch, mergePatch, mergeFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchNamespace(name, apply, opts)
}

// StrategicPatchNamespace applies a strategic merge patch (kubectl
// label's, annotate's, apply's) to a namespace.
func (c *Cluster) StrategicPatchNamespace(_, name string, patch []byte, opts ...WriteOptions) (*kube.Namespace, error) {
	apply, err := merger(patch, strategicMerge, strategicFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchNamespace(name, apply, opts)
}

// JSONPatchNamespace applies a JSON Patch to a namespace.
func (c *Cluster) JSONPatchNamespace(_, name string, patch []byte, opts ...WriteOptions) (*kube.Namespace, error) {
	return c.patchNamespace(name, jsonPatcher(patch, opts), opts)
}

// UpdateNamespace replaces a namespace's labels and annotations (PUT).
func (c *Cluster) UpdateNamespace(_, name string, body []byte, opts ...WriteOptions) (*kube.Namespace, error) {
	return c.patchNamespace(name, replaceWith(body), updating(opts))
}

func (c *Cluster) patchNamespace(name string, apply func(doc any) (any, error), opts []WriteOptions) (*kube.Namespace, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[Namespaces][key{"", name}]
	if !ok {
		return nil, ErrNotFound
	}
	ns := o.(*kube.Namespace)
	if rv := options(opts).ResourceVersion; rv != "" && rv != ns.ResourceVersion {
		return nil, ErrConflict
	}
	p, err := patchJSON(ns, apply, func(u *kube.Namespace) any { return u.Spec }, opts)
	if err != nil {
		return nil, err
	}
	u := clone(ns)
	u.Labels, u.Annotations = maps.Clone(p.Labels), p.Annotations
	if u.Labels == nil {
		u.Labels = map[string]string{}
	}
	u.Labels[nameLabel] = name // the API server's, whatever the patch says
	if err := u.Validate(); err != nil {
		return nil, invalidError(err)
	}
	u.ManagedFields = c.managedLocked(ns, u, p.ManagedFields, opts)
	if err := checkSize(u); err != nil {
		return nil, err
	}
	if sameJSON(u, ns) || options(opts).DryRun {
		return u, nil
	}
	c.storeLocked(Namespaces, "MODIFIED", u)
	return u, nil
}
