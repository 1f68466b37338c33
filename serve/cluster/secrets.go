package cluster

import (
	"fmt"

	"github.com/porthole/porthole/kube"
)

// Secrets are stored as they are given, stringData folded into data as
// the API server folds it: nothing acts on them but the runtime, which
// reads one when a container whose environment refers to it starts (see
// SecretData).
const Secrets Resource = "secrets"

// MaxSecretTotal bounds the bytes of all Secrets' values together, as
// MaxConfigMapTotal does ConfigMaps'.
const MaxSecretTotal = 32 << 20

// warn passes each of texts to the write's Warn, if it has one.
func warn(opts []WriteOptions, texts []string) {
	if w := options(opts).Warn; w != nil {
		for _, t := range texts {
			w(t)
		}
	}
}

// secretValues bounds the Secrets' values together.
var secretValues = valueBudget{Secrets, "Secret", MaxSecretTotal, func(o Object) int {
	n := 0
	for _, v := range o.(*kube.Secret).Data {
		n += len(v)
	}
	return n
}}

// seedSecretsLocked stores a manifest's Secrets, at New.
func (c *Cluster) seedSecretsLocked(secrets []*kube.Secret) error {
	now := c.now()
	for _, s := range secrets {
		s = clone(s)
		s.FoldStringData()
		if err := s.Validate(); err != nil {
			return fmt.Errorf("secret %s: %w", s.Name, err)
		}
		defaultMeta(&s.ObjectMeta, now)
		s.TypeMeta = kube.TypeMeta{Kind: "Secret", APIVersion: "v1"}
		if err := secretValues.checkLocked(c, s); err != nil {
			return err
		}
		if err := c.insert(Secrets, s); err != nil {
			return err
		}
	}
	return nil
}

// CreateSecret adds a Secret (kubectl create secret, apply).
func (c *Cluster) CreateSecret(s *kube.Secret, opts ...WriteOptions) (*kube.Secret, error) {
	s = clone(s)
	s.FoldStringData()
	err := c.create(Secrets, &s.ObjectMeta, s.Validate, func() error {
		s.TypeMeta = kube.TypeMeta{Kind: "Secret", APIVersion: "v1"}
		warn(opts, kube.SecretWarnings(s))
		return secretValues.checkLocked(c, s)
	}, s, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SecretData is the data of a Secret, for the runtime to read into a
// starting container's environment; found is false when there is none
// of that name. The map is shared and must not be modified.
func (c *Cluster) SecretData(namespace, name string) (data map[string][]byte, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[Secrets][key{namespace, name}]
	if !ok {
		return nil, false
	}
	return o.(*kube.Secret).Data, true
}

// PatchSecret applies a JSON merge patch to a Secret: its labels,
// annotations and data may change (stringData folded in), unless it is
// immutable; its type never does.
func (c *Cluster) PatchSecret(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Secret, error) {
	apply, err := merger(patch, mergePatch, mergeFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchSecret(namespace, name, apply, opts)
}

// StrategicPatchSecret applies a strategic merge patch (kubectl apply's,
// label's, edit's) to a Secret.
func (c *Cluster) StrategicPatchSecret(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Secret, error) {
	apply, err := merger(patch, strategicMerge, strategicFlavour, opts)
	if err != nil {
		return nil, err
	}
	return c.patchSecret(namespace, name, apply, opts)
}

// JSONPatchSecret applies a JSON Patch to a Secret.
func (c *Cluster) JSONPatchSecret(namespace, name string, patch []byte, opts ...WriteOptions) (*kube.Secret, error) {
	return c.patchSecret(namespace, name, jsonPatcher(patch, opts), opts)
}

// UpdateSecret replaces a Secret (PUT: kubectl replace).
func (c *Cluster) UpdateSecret(namespace, name string, body []byte, opts ...WriteOptions) (*kube.Secret, error) {
	return c.patchSecret(namespace, name, replaceWith(body), updating(opts))
}

// ApplySecret applies cfg, server-side, to a Secret.
func (c *Cluster) ApplySecret(namespace, name string, cfg []byte, opts ...WriteOptions) (*kube.Secret, error) {
	apply, err := c.applier(cfg, "Secret", "v1", name, opts)
	if err != nil {
		return nil, err
	}
	return c.patchSecret(namespace, name, apply, applying(opts))
}

func (c *Cluster) patchSecret(namespace, name string, apply func(doc any) (any, error), opts []WriteOptions) (*kube.Secret, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[Secrets][key{namespace, name}]
	if !ok {
		return nil, ErrNotFound
	}
	s := o.(*kube.Secret)
	if rv := options(opts).ResourceVersion; rv != "" && rv != s.ResourceVersion {
		return nil, ErrConflict
	}
	p, err := patchJSON(s, apply, func(*kube.Secret) any { return nil }, opts)
	if err != nil {
		return nil, err
	}
	p.FoldStringData()
	u := clone(s)
	u.Labels, u.Annotations = p.Labels, p.Annotations
	u.Data, u.Immutable, u.Type = p.Data, p.Immutable, p.Type
	if err := kube.ValidateSecretUpdate(u, s); err != nil {
		return nil, invalidError(err)
	}
	warn(opts, kube.SecretWarnings(u))
	if err := secretValues.checkLocked(c, u); err != nil {
		return nil, err
	}
	u.ManagedFields = c.managedLocked(s, u, p.ManagedFields, opts)
	if sameJSON(u, s) || options(opts).DryRun {
		return u, nil
	}
	c.storeLocked(Secrets, "MODIFIED", u)
	return u, nil
}
