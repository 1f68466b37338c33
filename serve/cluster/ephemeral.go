package cluster

import (
	"errors"
	"slices"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// EphemeralRunner is a runtime that can add an ephemeral container to a
// running pod (localrt.Runtime): with it, the pods' ephemeralcontainers
// subresource is served.
type EphemeralRunner interface {
	AddEphemeralContainer(namespace, name string, spec kube.EphemeralContainer) error
}

// ErrNoEphemeral is a write of ephemeral containers on a runtime that
// cannot add them: the API server's answer when the feature is off.
var ErrNoEphemeral = errors.New("the runtime cannot add ephemeral containers")

// PatchEphemeralContainers applies a JSON merge patch to a pod through
// its ephemeralcontainers subresource (see patchEphemeral).
func (c *Cluster) PatchEphemeralContainers(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Pod, error) {
	apply, err := merger(patch, mergePatch, mergeFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchEphemeral(namespace, name, apply, opts)
}

// StrategicPatchEphemeralContainers applies a strategic merge patch, as
// kubectl debug sends, through the ephemeralcontainers subresource.
func (c *Cluster) StrategicPatchEphemeralContainers(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Pod, error) {
	apply, err := merger(patch, strategicMerge, strategicFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchEphemeral(namespace, name, apply, opts)
}

// JSONPatchEphemeralContainers applies a JSON Patch through the
// ephemeralcontainers subresource.
func (c *Cluster) JSONPatchEphemeralContainers(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Pod, error) {
	return c.patchEphemeral(namespace, name, jsonPatcher(patch, opts), opts)
}

// UpdateEphemeralContainers replaces a pod through the
// ephemeralcontainers subresource (PUT): only its ephemeral containers
// are taken.
func (c *Cluster) UpdateEphemeralContainers(namespace, name string, body []byte, opts ...WriteOptions) (*kube.Pod, error) {
	return c.patchEphemeral(namespace, name, replaceWith(body), opts)
}

// patchEphemeral changes a pod's JSON form with apply and keeps only its
// ephemeral containers, as the API server's subresource does: the rest of
// the pod stays as it was, whatever the write says of it (a field porthole
// does not model included). The containers
// new to the pod are started by the runtime; the old ones must be kept,
// unchanged (kube.ValidateEphemeralContainers).
func (c *Cluster) patchEphemeral(namespace, name string, apply func(doc any) (any, error), opts []WriteOptions) (*kube.Pod, error) {
	er, ok := c.runner.(EphemeralRunner)
	if !ok {
		return nil, ErrNoEphemeral
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
	doc, patched, err := patchDoc[kube.Pod](p, apply)
	if err != nil {
		return nil, err
	}
	// Only the ephemeral containers are the subresource's: a field of
	// theirs porthole does not keep is refused, the rest of the write
	// is not looked at.
	root, _ := doc.(map[string]any)
	spec, _ := root["spec"].(map[string]any)
	if err := unsupported("spec.ephemeralContainers", spec["ephemeralContainers"], patched.Spec.EphemeralContainers); err != nil {
		return nil, err
	}
	u := clone(p)
	u.Spec.EphemeralContainers = patched.Spec.EphemeralContainers
	u.Spec.Default()
	if err := kube.ValidateEphemeralContainers(&u.Spec, &p.Spec); err != nil {
		return nil, invalidError(err)
	}
	// The old ones first, as they were; then the new, which the runtime
	// reports in that order.
	var added []kube.EphemeralContainer
	for _, e := range u.Spec.EphemeralContainers {
		if !slices.ContainsFunc(p.Spec.EphemeralContainers, func(o kube.EphemeralContainer) bool { return o.Name == e.Name }) {
			added = append(added, e)
		}
	}
	u.Spec.EphemeralContainers = append(slices.Clip(clone(p).Spec.EphemeralContainers), added...)
	u.ManagedFields = c.managedLocked(p, u, nil, opts) // a subresource's write: not its own managedFields
	if sameJSON(u, p) {
		return p, nil
	}
	if p.DeletionTimestamp != "" {
		return nil, &InvalidError{Msg: "spec.ephemeralContainers: Forbidden: the pod is terminating"}
	}
	if err := checkSize(u); err != nil {
		return nil, err
	}
	if options(opts).DryRun {
		return u, nil
	}
	for _, e := range added {
		switch err := er.AddEphemeralContainer(namespace, name, e); {
		case errors.Is(err, node.ErrNotFound):
			return nil, &InvalidError{Msg: "spec.ephemeralContainers: Forbidden: the pod is terminating"}
		case err != nil:
			return nil, &InvalidError{Msg: "spec.ephemeralContainers: " + err.Error()}
		}
	}
	c.storeLocked(Pods, "MODIFIED", u)
	return u, nil
}
