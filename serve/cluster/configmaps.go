package cluster

import (
	"fmt"

	"github.com/porthole/porthole/kube"
)

// ConfigMaps are stored as they are given: nothing acts on them but the
// runtime, which reads one when a container whose environment refers to
// it starts (see ConfigMapData).
const ConfigMaps Resource = "configmaps"

// MaxConfigMapTotal bounds the bytes of all ConfigMaps' values together:
// each may hold kube.MaxConfigMapData, as on a real cluster, and
// MaxObjects of them would be too many.
const MaxConfigMapTotal = 32 << 20

// configMapValues bounds the ConfigMaps' values together.
var configMapValues = valueBudget{ConfigMaps, "ConfigMap", MaxConfigMapTotal, func(o Object) int {
	cm, n := o.(*kube.ConfigMap), 0
	for _, v := range cm.Data {
		n += len(v)
	}
	for _, v := range cm.BinaryData {
		n += len(v)
	}
	return n
}}

// valueBudget bounds the bytes of one kind's values (data), all its
// objects together, so that a cluster of objects each within its own
// bound still fits in memory.
type valueBudget struct {
	res   Resource
	kind  string
	limit int
	size  func(Object) int
}

// checkLocked refuses o when, in place of the object of its name, it
// would take the kind's values past the budget.
func (b valueBudget) checkLocked(c *Cluster, o Object) error {
	m := o.Meta()
	total := b.size(o)
	for k, other := range c.objs[b.res] {
		if k != (key{m.Namespace, m.Name}) {
			total += b.size(other)
		}
	}
	if total > b.limit {
		return fmt.Errorf("serve keeps at most %d bytes of %s values (this one would make %d): %w", b.limit, b.kind, total, ErrTooMany)
	}
	return nil
}

// seedConfigMapsLocked stores a manifest's ConfigMaps, at New.
func (c *Cluster) seedConfigMapsLocked(cms []*kube.ConfigMap) error {
	now := c.now()
	for _, cm := range cms {
		if err := cm.Validate(); err != nil {
			return fmt.Errorf("configmap %s: %w", cm.Name, err)
		}
		cm = clone(cm)
		defaultMeta(&cm.ObjectMeta, now)
		cm.TypeMeta = kube.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
		if err := configMapValues.checkLocked(c, cm); err != nil {
			return err
		}
		if err := c.insert(ConfigMaps, cm); err != nil {
			return err
		}
	}
	return nil
}

// CreateConfigMap adds a ConfigMap (kubectl create configmap, apply).
func (c *Cluster) CreateConfigMap(cm *kube.ConfigMap, opts ...WriteOptions) (*kube.ConfigMap, error) {
	cm = clone(cm)
	err := c.create(ConfigMaps, &cm.ObjectMeta, cm.Validate, func() error {
		cm.TypeMeta = kube.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
		return configMapValues.checkLocked(c, cm)
	}, cm, opts)
	if err != nil {
		return nil, err
	}
	return cm, nil
}

// ConfigMapData is the data of a ConfigMap, for the runtime to read into
// a starting container's environment; found is false when there is none
// of that name. The map is shared and must not be modified.
func (c *Cluster) ConfigMapData(namespace, name string) (data map[string]string, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[ConfigMaps][key{namespace, name}]
	if !ok {
		return nil, false
	}
	return o.(*kube.ConfigMap).Data, true
}

// PatchConfigMap applies a JSON merge patch to a ConfigMap: its labels,
// annotations, data and binaryData may change, unless it is immutable.
func (c *Cluster) PatchConfigMap(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.ConfigMap, error) {
	apply, err := merger(patch, mergePatch, mergeFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchConfigMap(namespace, name, apply, opts)
}

// StrategicPatchConfigMap applies a strategic merge patch (kubectl
// apply's, label's, edit's) to a ConfigMap.
func (c *Cluster) StrategicPatchConfigMap(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.ConfigMap, error) {
	apply, err := merger(patch, strategicMerge, strategicFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchConfigMap(namespace, name, apply, opts)
}

// JSONPatchConfigMap applies a JSON Patch to a ConfigMap.
func (c *Cluster) JSONPatchConfigMap(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.ConfigMap, error) {
	return c.patchConfigMap(namespace, name, jsonPatcher(patch, opts), opts)
}

// UpdateConfigMap replaces a ConfigMap (PUT: kubectl replace).
func (c *Cluster) UpdateConfigMap(namespace, name string, body []byte, opts ...WriteOptions) (*kube.ConfigMap, error) {
	return c.patchConfigMap(namespace, name, replaceWith(body), updating(opts))
}

func (c *Cluster) patchConfigMap(namespace, name string, apply func(doc any) (any, error), opts []WriteOptions) (*kube.ConfigMap, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[ConfigMaps][key{namespace, name}]
	if !ok {
		return nil, ErrNotFound
	}
	cm := o.(*kube.ConfigMap)
	if rv := options(opts).ResourceVersion; rv != "" && rv != cm.ResourceVersion {
		return nil, ErrConflict
	}
	p, err := patchJSON(cm, apply, func(*kube.ConfigMap) any { return nil }, opts)
	if err != nil {
		return nil, err
	}
	u := clone(cm)
	u.Labels, u.Annotations = p.Labels, p.Annotations
	u.Data, u.BinaryData, u.Immutable = p.Data, p.BinaryData, p.Immutable
	if err := kube.ValidateConfigMapUpdate(u, cm); err != nil {
		return nil, invalidError(err)
	}
	if err := configMapValues.checkLocked(c, u); err != nil {
		return nil, err
	}
	u.ManagedFields = c.managedLocked(cm, u, p.ManagedFields, opts)
	if sameJSON(u, cm) || options(opts).DryRun {
		return u, nil
	}
	c.storeLocked(ConfigMaps, "MODIFIED", u)
	return u, nil
}
