package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/porthole/porthole/kube"
)

// MaxObjects bounds the Deployments, and the Services, that creates may
// add to: each holds memory, and a Deployment's ReplicaSets more.
const MaxObjects = 256

// ErrTooMany is a create past MaxObjects.
var ErrTooMany = fmt.Errorf("serve holds at most %d objects of a kind", MaxObjects)

// MaxObjectBytes bounds a created or patched Deployment or Service, and
// a patched pod (created ones are bounded by their body), in JSON: with
// the bounds on their number, it bounds what they and the ReplicaSets
// copied from them hold.
const MaxObjectBytes = 128 << 10

// TooLargeError is an object over MaxObjectBytes.
type TooLargeError struct{ Size int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the object would be %d bytes, more than the %d serve keeps", e.Size, MaxObjectBytes)
}

// checkSize refuses o if it is over MaxObjectBytes.
func checkSize(o any) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if len(b) > MaxObjectBytes {
		return &TooLargeError{Size: len(b)}
	}
	return nil
}

// Propagation says what a delete does to the deleted object's dependents
// (a Deployment's ReplicaSets, a ReplicaSet's pods), as the API server's
// propagationPolicy does.
type Propagation string

// The propagation policies.
const (
	// Background deletes the object at once and its dependents after.
	Background Propagation = "Background"
	// Foreground marks the object deleted (deletionTimestamp, finalizer
	// foregroundDeletion) and deletes it once its dependents are gone.
	Foreground Propagation = "Foreground"
	// Orphan deletes the object and leaves its dependents ownerless.
	Orphan Propagation = "Orphan"
)

// foregroundFinalizer holds an object being deleted in the foreground
// until its dependents are gone.
const foregroundFinalizer = "foregroundDeletion"

// CreateDeployment adds a Deployment (kubectl create deployment): named,
// or named from its generateName, in one of the cluster's namespaces,
// valid as a manifest's. The controllers then roll out its pods.
func (c *Cluster) CreateDeployment(d *kube.Deployment, opts ...WriteOptions) (*kube.Deployment, error) {
	if c.runner == nil {
		return nil, ErrUnsupported
	}
	d = clone(d)
	err := c.create(Deployments, &d.ObjectMeta, d.Validate, func() error {
		d.TypeMeta = kube.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"}
		d.Generation, d.Status = 1, kube.DeploymentStatus{}
		defaultDeploymentSpec(&d.Spec)
		return nil
	}, d, opts)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// CreateService adds a Service (kubectl expose, kubectl create service),
// with a free cluster IP unless it names one (or None).
func (c *Cluster) CreateService(s *kube.Service, opts ...WriteOptions) (*kube.Service, error) {
	s = clone(s)
	err := c.create(Services, &s.ObjectMeta, s.Validate, func() error {
		if ip := s.Spec.ClusterIP; ip != "" && ip != "None" && c.ipTakenLocked(ip) {
			return &InvalidError{Msg: fmt.Sprintf("spec.clusterIPs: Invalid value: []string{%q}: failed to allocate IP %s: provided IP is already allocated", ip, ip)}
		}
		s.TypeMeta = kube.TypeMeta{Kind: "Service", APIVersion: "v1"}
		s.Status = kube.ServiceStatus{}
		c.defaultService(s)
		return nil
	}, s, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// create names, checks and stores o (whose metadata is m) as a new object
// of res: fill sets what the API server sets, or refuses the object. A
// dry run stops short of storing it.
func (c *Cluster) create(res Resource, m *kube.ObjectMeta, validate func() error, fill func() error, o Object, opts []WriteOptions) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if res != Namespaces {
		if err := c.checkNamespaceLocked(m.Namespace); err != nil {
			return err
		}
	}
	if m.Name == "" && m.GenerateName != "" {
		for {
			m.Name = m.GenerateName + randomSuffix(5)
			if _, taken := c.objs[res][key{m.Namespace, m.Name}]; !taken {
				break
			}
		}
	}
	if err := validate(); err != nil {
		return invalidError(err)
	}
	if _, taken := c.objs[res][key{m.Namespace, m.Name}]; taken {
		return ErrExists
	}
	if len(c.objs[res]) >= MaxObjects {
		return ErrTooMany
	}
	m.UID, m.CreationTimestamp, m.ResourceVersion = newUID(), timestamp(c.now()), ""
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds, m.Finalizers = "", nil, nil
	var applied any // what the writer set, before defaults
	if options(opts).Manager != "" {
		applied = jsonOf(o)
	}
	if err := fill(); err != nil {
		return err
	}
	m.ManagedFields = c.createdManagedLocked(applied, o, opts)
	if res != ConfigMaps && res != Secrets { // bounded by their validation and totals
		if err := checkSize(o); err != nil {
			return err
		}
	}
	if options(opts).DryRun {
		return nil
	}
	c.storeLocked(res, "ADDED", o)
	c.wake()
	return nil
}

// ipTakenLocked says whether a Service has the cluster IP ip.
func (c *Cluster) ipTakenLocked(ip string) bool {
	for _, o := range c.objs[Services] {
		if o.(*kube.Service).Spec.ClusterIP == ip {
			return true
		}
	}
	return false
}

// Delete deletes a Service, ConfigMap, Secret, Deployment, ReplicaSet or
// namespace (pods: DeletePod),
// doing to its dependents what policy says, and returns the object as
// deleted: with deletionTimestamp for Foreground, else as it was last.
// An object already being deleted is returned as it is.
func (c *Cluster) Delete(res Resource, namespace, name string, policy Propagation, opts ...WriteOptions) (Object, error) {
	switch res {
	case Services, ConfigMaps, Secrets:
		policy = Background // they own nothing: gone at once whatever the policy
	case Deployments, ReplicaSets:
		if c.runner == nil {
			return nil, ErrUnsupported
		}
	case Namespaces:
	default:
		return nil, fmt.Errorf("delete %s: %w", res, ErrUnsupported)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	k := key{namespace, name}
	o, ok := c.objs[res][k]
	if !ok {
		return nil, ErrNotFound
	}
	if res == Namespaces {
		return c.deleteNamespaceLocked(o, options(opts).DryRun)
	}
	if o.Meta().DeletionTimestamp != "" {
		return o, nil
	}
	if options(opts).DryRun {
		if policy == Foreground {
			o = c.markedLocked(o)
		}
		return o, nil
	}
	switch policy {
	case Orphan:
		c.orphanLocked(o.Meta().UID)
		c.deleteLocked(res, k)
	case Foreground:
		o = c.foregroundLocked(res, o)
	default:
		c.deleteLocked(res, k)
		c.deleteDependentsLocked(o.Meta().UID, Background)
	}
	c.wake()
	return o, nil
}

// dependentsLocked are the objects an owner's UID owns: a Deployment's
// ReplicaSets, a ReplicaSet's pods.
func (c *Cluster) dependentsLocked(uid string) (res Resource, deps []Object) {
	owned := func(o Object) bool {
		return slices.ContainsFunc(o.Meta().OwnerReferences, func(r kube.OwnerReference) bool { return r.UID == uid })
	}
	if deps = c.listLocked(ReplicaSets, "", owned); len(deps) > 0 {
		return ReplicaSets, deps
	}
	return Pods, c.listLocked(Pods, "", owned)
}

// deleteDependentsLocked deletes what uid owns, as the garbage collector
// does for a deleted owner: a ReplicaSet with pods in the foreground when
// its owner goes in the foreground, else at once; pods with their grace.
func (c *Cluster) deleteDependentsLocked(uid string, policy Propagation) {
	res, deps := c.dependentsLocked(uid)
	for _, o := range deps {
		m := o.Meta()
		switch {
		case m.DeletionTimestamp != "":
		case res == Pods:
			p := o.(*kube.Pod)
			c.deletePodLocked(p, podGrace(p))
		case policy == Foreground:
			if _, pods := c.dependentsLocked(m.UID); len(pods) > 0 {
				c.foregroundLocked(res, o)
				continue
			}
			c.deleteLocked(res, key{m.Namespace, m.Name})
		default:
			c.deleteLocked(res, key{m.Namespace, m.Name})
			c.deleteDependentsLocked(m.UID, Background)
		}
	}
}

// foregroundLocked marks o deleted and holds it with the foreground
// finalizer while its dependents are deleted; finalizeLocked deletes it
// once they are gone.
func (c *Cluster) foregroundLocked(res Resource, o Object) Object {
	u := c.markedLocked(o)
	m := u.Meta()
	c.storeLocked(res, "MODIFIED", u)
	c.deleteDependentsLocked(m.UID, Foreground)
	c.finalizeLocked()
	return c.objs[res][key{m.Namespace, m.Name}]
}

// markedLocked is a copy of o marked for deletion in the foreground.
func (c *Cluster) markedLocked(o Object) Object {
	u := cloneObject(o)
	m := u.Meta()
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = timestamp(c.now()), ptr(int64(0))
	m.Finalizers = append(slices.Clone(m.Finalizers), foregroundFinalizer)
	return u
}

// finalizeLocked deletes the objects held for foreground deletion whose
// dependents are all gone, ReplicaSets before their Deployments.
func (c *Cluster) finalizeLocked() {
	for _, res := range []Resource{ReplicaSets, Deployments} {
		for _, o := range c.listLocked(res, "", func(o Object) bool {
			return slices.Contains(o.Meta().Finalizers, foregroundFinalizer)
		}) {
			m := o.Meta()
			if _, deps := c.dependentsLocked(m.UID); len(deps) == 0 {
				c.deleteLocked(res, key{m.Namespace, m.Name})
			}
		}
	}
}

// orphanLocked removes the owner references to uid from its dependents,
// which then stay as they are.
func (c *Cluster) orphanLocked(uid string) {
	res, deps := c.dependentsLocked(uid)
	for _, o := range deps {
		u := cloneObject(o)
		m := u.Meta()
		m.OwnerReferences = slices.DeleteFunc(m.OwnerReferences, func(r kube.OwnerReference) bool { return r.UID == uid })
		c.storeLocked(res, "MODIFIED", u)
	}
}

// podGrace is how long a deleted pod's processes get to end: its
// terminationGracePeriodSeconds (default 30), at most an hour.
func podGrace(p *kube.Pod) int64 {
	grace := int64(30)
	if g := p.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = max(0, min(*g, 3600))
	}
	return grace
}

// deletePodLocked deletes p as DeletePod says.
func (c *Cluster) deletePodLocked(p *kube.Pod, grace int64) *kube.Pod {
	if p.DeletionTimestamp != "" && grace != 0 {
		return p
	}
	d := clone(p)
	d.DeletionTimestamp = timestamp(c.now().Add(time.Duration(grace) * time.Second))
	d.DeletionGracePeriodSeconds = ptr(grace)
	if p.DeletionTimestamp == "" {
		c.killingLocked(p)
	}
	k := key{p.Namespace, p.Name}
	if grace == 0 {
		d.Meta().ResourceVersion = p.ResourceVersion
		c.objs[Pods][k] = d
		c.deleteLocked(Pods, k)
	} else if p.DeletionTimestamp == "" {
		c.storeLocked(Pods, "MODIFIED", d)
	}
	c.removeLocked(k, grace)
	return d
}

// cloneObject deep-copies a stored object of any kind.
func cloneObject(o Object) Object {
	switch v := o.(type) {
	case *kube.Pod:
		return clone(v)
	case *kube.Service:
		return clone(v)
	case *kube.Deployment:
		return clone(v)
	case *kube.ReplicaSet:
		return clone(v)
	case *kube.Event:
		return clone(v)
	case *kube.Namespace:
		return clone(v)
	case *kube.ConfigMap:
		return clone(v)
	case *kube.Secret:
		return clone(v)
	}
	panic(fmt.Sprintf("cluster: copy %T: not a stored kind", o))
}
