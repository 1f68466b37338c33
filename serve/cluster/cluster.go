// Package cluster is the object store and controllers behind porthole
// serve's API: pods (as the runtime runs them), Services, Deployments,
// ReplicaSets, namespaces, ConfigMaps and the events that tell what
// happened to them, with one
// resourceVersion counter for the whole server, a bounded history of
// changes for watches, and the controllers that turn a Deployment into
// ReplicaSets and a ReplicaSet into running pods, replacing a deleted pod
// under a new name, adopting and releasing as the controller manager
// would, and deleting a deleted object's dependents as its garbage
// collector would.
//
// Objects handed out are shared and must not be modified; every change
// stores a new object.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// Resource names a kind of object by its plural resource name.
type Resource string

// The resources the cluster stores.
const (
	Pods        Resource = "pods"
	Services    Resource = "services"
	Deployments Resource = "deployments"
	ReplicaSets Resource = "replicasets"
)

// Object is any stored object.
type Object interface{ Meta() *kube.ObjectMeta }

// PodSource reads the runtime's pods; it is all a cluster of fixed pods
// needs.
type PodSource interface {
	Pod(ctx context.Context, namespace, name string) (*kube.Pod, error)
}

// PodRunner is a runtime that can run and stop pods: needed for
// workloads and pod deletion.
type PodRunner interface {
	AddPod(*kube.Pod) error
	RemovePodGrace(namespace, name string, grace time.Duration) error
}

// Notifier is a runtime that says when pod status changes: with it, pod
// changes reach watchers without anyone reading the pods.
type Notifier interface {
	Changes() <-chan struct{}
}

// Errors of the cluster's operations.
var (
	ErrNotFound    = errors.New("not found")
	ErrUnsupported = errors.New("the runtime cannot add or remove pods")
	ErrClosed      = errors.New("cluster closed")
	ErrExists      = errors.New("already exists")
	ErrTooManyPods = fmt.Errorf("the node runs at most %d pods", MaxPods)
)

// Sizes and times that bound the cluster's memory.
const (
	historySize = 1024 // events kept for watches from a resourceVersion
	queueSize   = 256  // events a watcher may fall behind before it is ended
	maxWatchers = 512
)

// maxHistoryBytes bounds the history by the JSON size of its objects
// (a variable for tests).
var maxHistoryBytes = 64 << 20

type key struct{ namespace, name string }

// Cluster holds the objects. It is safe for concurrent use.
type Cluster struct {
	rt     PodSource
	runner PodRunner // nil when the runtime cannot add or remove pods
	log    *slog.Logger
	now    func() time.Time

	mu          sync.Mutex
	rv          uint64
	objs        map[Resource]map[key]Object
	history     []Event // from historyFrom on, the events kept, oldest first (recordLocked)
	historyFrom int
	keptBytes   int // the JSON size of the events kept
	watchers    map[*Watcher]struct{}
	events      events
	nextIP      int
	manifest    []key                // pods given to New, read from the runtime at Start
	starved     map[string]bool      // ReplicaSets (by UID) refused pods at MaxPods, told once
	terminating map[string]time.Time // deleted namespaces, by when their contents go
	started     bool
	closed      bool

	kick chan struct{}  // wakes the controller loop
	done chan struct{}  // closed by Stop
	wg   sync.WaitGroup // the loop and pod removals
}

// Objects are what New starts with.
type Objects struct {
	Pods        []*kube.Pod // already in the runtime
	Services    []*kube.Service
	Deployments []*kube.Deployment
	ReplicaSets []*kube.ReplicaSet
	Namespaces  []*kube.Namespace // besides the builtin ones and those the others are in
	ConfigMaps  []*kube.ConfigMap
	Secrets     []*kube.Secret
}

// Option changes how New makes a cluster.
type Option func(*Cluster)

// WithClock makes the cluster read the time from now (for tests: the
// namespaces it starts with are created at New).
func WithClock(now func() time.Time) Option { return func(c *Cluster) { c.now = now } }

// New returns a cluster over rt holding objs. Workloads need rt to be a
// PodRunner. Nothing runs until Start.
func New(rt PodSource, objs Objects, log *slog.Logger, opts ...Option) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		rt:          rt,
		log:         log,
		now:         time.Now,
		rv:          1,
		objs:        map[Resource]map[key]Object{Pods: {}, Services: {}, Deployments: {}, ReplicaSets: {}, Events: {}, Namespaces: {}, ConfigMaps: {}, Secrets: {}},
		watchers:    make(map[*Watcher]struct{}),
		starved:     make(map[string]bool),
		terminating: make(map[string]time.Time),
		events:      events{byKey: make(map[eventKey]string)},
		kick:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	for _, o := range opts {
		o(c)
	}
	c.runner, _ = rt.(PodRunner)
	if c.runner == nil && len(objs.Deployments)+len(objs.ReplicaSets) > 0 {
		return nil, fmt.Errorf("deployments and replica sets: %w", ErrUnsupported)
	}
	for _, p := range objs.Pods {
		ns := p.Namespace
		if ns == "" {
			ns = kube.DefaultNamespace
		}
		c.manifest = append(c.manifest, key{ns, p.Name})
	}
	if err := c.seedNamespacesLocked(objs.Namespaces, objs); err != nil {
		return nil, err
	}
	if err := c.seedConfigMapsLocked(objs.ConfigMaps); err != nil {
		return nil, err
	}
	if err := c.seedSecretsLocked(objs.Secrets); err != nil {
		return nil, err
	}
	now := c.now()
	for _, s := range objs.Services {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
		s = clone(s)
		defaultMeta(&s.ObjectMeta, now)
		s.TypeMeta = kube.TypeMeta{Kind: "Service", APIVersion: "v1"}
		c.defaultService(s)
		if err := c.insert(Services, s); err != nil {
			return nil, err
		}
	}
	for _, d := range objs.Deployments {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("deployment %s: %w", d.Name, err)
		}
		d = clone(d)
		defaultMeta(&d.ObjectMeta, now)
		d.TypeMeta = kube.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"}
		d.Generation = 1
		defaultDeploymentSpec(&d.Spec)
		if err := c.insert(Deployments, d); err != nil {
			return nil, err
		}
	}
	for _, rs := range objs.ReplicaSets {
		if err := rs.Validate(); err != nil {
			return nil, fmt.Errorf("replica set %s: %w", rs.Name, err)
		}
		rs = clone(rs)
		defaultMeta(&rs.ObjectMeta, now)
		rs.TypeMeta = kube.TypeMeta{Kind: "ReplicaSet", APIVersion: "apps/v1"}
		rs.Generation = 1
		rs.Spec.Replicas = ptr(kube.Replicas(rs.Spec.Replicas))
		defaultTemplate(&rs.Spec.Template)
		if err := c.insert(ReplicaSets, rs); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// insert adds a new object at construction, refusing duplicates.
func (c *Cluster) insert(res Resource, o Object) error {
	m := o.Meta()
	k := key{m.Namespace, m.Name}
	if _, dup := c.objs[res][k]; dup {
		return fmt.Errorf("duplicate %s %s/%s", res, k.namespace, k.name)
	}
	c.storeLocked(res, "ADDED", o)
	return nil
}

func defaultMeta(m *kube.ObjectMeta, now time.Time) {
	if m.Namespace == "" {
		m.Namespace = kube.DefaultNamespace
	}
	if m.UID == "" {
		m.UID = newUID()
	}
	if m.CreationTimestamp == "" {
		m.CreationTimestamp = timestamp(now)
	}
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds, m.Finalizers = "", nil, nil
}

func defaultTemplate(t *kube.PodTemplateSpec) { t.Spec.Default() }

// defaultDeploymentSpec fills what the API server would: a rolling update
// bounded by 25% surge and 25% unavailable unless told otherwise.
func defaultDeploymentSpec(spec *kube.DeploymentSpec) {
	spec.Replicas = ptr(kube.Replicas(spec.Replicas))
	defaultTemplate(&spec.Template)
	if spec.Strategy == nil {
		spec.Strategy = &kube.DeploymentStrategy{}
	}
	st := spec.Strategy
	if st.Type == "" {
		st.Type = kube.RollingUpdateDeploymentStrategy
	}
	if st.Type == kube.RollingUpdateDeploymentStrategy {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &kube.RollingUpdateDeployment{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			st.RollingUpdate.MaxUnavailable = ptr(kube.FromString(kube.DefaultRollingBound))
		}
		if st.RollingUpdate.MaxSurge == nil {
			st.RollingUpdate.MaxSurge = ptr(kube.FromString(kube.DefaultRollingBound))
		}
	}
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = ptr(int32(600))
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr(int32(10))
	}
}

// maxClusterIPs is the size of the range Services' addresses come from:
// 10.96.0.11 to 10.96.255.250.
const maxClusterIPs = 256*250 - 10

// defaultService fills what the API server would: type, affinity,
// protocols, target ports and a cluster IP (from 10.96.0.0/16).
func (c *Cluster) defaultService(s *kube.Service) {
	if s.Spec.Type == "" {
		s.Spec.Type = "ClusterIP"
	}
	if s.Spec.SessionAffinity == "" {
		s.Spec.SessionAffinity = "None"
	}
	if s.Spec.InternalTrafficPolicy == "" {
		s.Spec.InternalTrafficPolicy = "Cluster"
	}
	if len(s.Spec.IPFamilies) == 0 {
		s.Spec.IPFamilies = []string{"IPv4"}
	}
	if s.Spec.IPFamilyPolicy == "" {
		s.Spec.IPFamilyPolicy = "SingleStack"
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = "TCP"
		}
		if p.TargetPort.IsZero() {
			p.TargetPort = kube.FromInt(p.Port)
		}
	}
	for range maxClusterIPs {
		if s.Spec.ClusterIP != "" {
			break
		}
		// The next free address, round the range.
		c.nextIP = c.nextIP%maxClusterIPs + 1
		n := c.nextIP + 9 // 10.96.0.1 is the kubernetes Service on a cluster
		if ip := fmt.Sprintf("10.96.%d.%d", n/250, n%250+1); !c.ipTakenLocked(ip) {
			s.Spec.ClusterIP = ip
		}
	}
	s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
}

// Start reads the manifest's pods from the runtime, runs the controllers
// once (creating the workloads' pods) and starts the loop that keeps pods
// in step with the runtime and workloads in step with their pods.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.closed {
		return errors.New("cluster: Start called twice or after Stop")
	}
	c.started = true
	for _, k := range c.manifest {
		p, err := c.rt.Pod(ctx, k.namespace, k.name)
		if errors.Is(err, node.ErrNotFound) {
			// The runtime is the authority on what runs.
			c.log.Warn("a manifest's pod is not in the runtime", "namespace", k.namespace, "name", k.name)
			continue
		}
		if err != nil {
			return fmt.Errorf("read pod %s/%s: %w", k.namespace, k.name, err)
		}
		p.ResourceVersion = ""
		p.TypeMeta = kube.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		c.storeLocked(Pods, "ADDED", p)
		c.scheduledLocked(p)
		c.podEventsLocked(nil, p)
	}
	c.reconcileLocked()
	c.wg.Add(1)
	go c.loop()
	return nil
}

// loop syncs pods with the runtime and reconciles workloads on every
// runtime change and every kick, until Stop.
func (c *Cluster) loop() {
	defer c.wg.Done()
	n, _ := c.rt.(Notifier)
	deadline := time.NewTimer(0)
	defer deadline.Stop()
	for {
		var changed <-chan struct{}
		if n != nil {
			changed = n.Changes()
		}
		c.mu.Lock()
		c.syncPodsLocked()
		c.reconcileLocked()
		next := c.nextDeadlineLocked()
		now := c.now()
		c.mu.Unlock()
		deadline.Stop()
		var expired <-chan time.Time
		if !next.IsZero() {
			deadline.Reset(max(next.Sub(now), 0))
			expired = deadline.C
		}
		select {
		case <-changed:
		case <-c.kick:
		case <-expired:
		case <-c.done:
			return
		}
	}
}

func (c *Cluster) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Stop ends every watch and the controllers; pod removals under way go
// on until Wait. It is idempotent.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	for w := range c.watchers {
		w.endLocked(nil)
	}
}

// Wait joins the loop and the pod removals (which end with the runtime).
func (c *Cluster) Wait() { c.wg.Wait() }

// storeLocked stores o (new or replacing) with the next resourceVersion
// and records the event.
func (c *Cluster) storeLocked(res Resource, typ string, o Object) {
	c.rv++
	m := o.Meta()
	m.ResourceVersion = strconv.FormatUint(c.rv, 10)
	k := key{m.Namespace, m.Name}
	prev := c.objs[res][k]
	c.objs[res][k] = o
	c.recordLocked(Event{Type: typ, Resource: res, Object: o, Prev: prev, RV: c.rv})
}

// deleteLocked forgets an object, recording its DELETED event with the
// next resourceVersion.
func (c *Cluster) deleteLocked(res Resource, k key) {
	o, ok := c.objs[res][k]
	if !ok {
		return
	}
	delete(c.objs[res], k)
	delete(c.starved, o.Meta().UID)
	c.rv++
	last := withRV(o, c.rv)
	c.recordLocked(Event{Type: "DELETED", Resource: res, Object: last, Prev: o, RV: c.rv})
}

// ResourceVersion is the cluster's current resourceVersion: a list taken
// now and a watch from this version see every change once.
func (c *Cluster) ResourceVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strconv.FormatUint(c.rv, 10)
}

// Get returns one object, with the pods' status fresh from the runtime.
func (c *Cluster) Get(res Resource, namespace, name string) (Object, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if res == Pods {
		c.syncPodsLocked()
	}
	o, ok := c.objs[res][key{namespace, name}]
	return o, ok
}

// List returns the objects of res in namespace (all when "") that match
// selects, sorted by namespace and name, and the resourceVersion of the
// list.
func (c *Cluster) List(res Resource, namespace string, match func(Object) bool) ([]Object, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if res == Pods {
		c.syncPodsLocked()
	}
	return c.listLocked(res, namespace, match), strconv.FormatUint(c.rv, 10)
}

func (c *Cluster) listLocked(res Resource, namespace string, match func(Object) bool) []Object {
	var out []Object
	for k, o := range c.objs[res] {
		if (namespace == "" || k.namespace == namespace) && (match == nil || match(o)) {
			out = append(out, o)
		}
	}
	// In the order of the API server's keys: namespace/name ("a-b/x"
	// before "a/x").
	slices.SortFunc(out, func(a, b Object) int {
		am, bm := a.Meta(), b.Meta()
		return strings.Compare(am.Namespace+"/"+am.Name, bm.Namespace+"/"+bm.Name)
	})
	return out
}

// syncPodsLocked reads every pod's live state from the runtime and stores
// those that changed (MODIFIED). The cluster's own metadata (deletion,
// resourceVersion, owners, labels, annotations, managedFields) and images
// win over the runtime's.
func (c *Cluster) syncPodsLocked() {
	for k, o := range c.objs[Pods] {
		old := o.(*kube.Pod)
		p, err := c.rt.Pod(context.Background(), k.namespace, k.name)
		if err != nil {
			if !errors.Is(err, node.ErrNotFound) {
				c.log.Warn("read pod", "namespace", k.namespace, "name", k.name, "err", err)
			}
			continue
		}
		p.ResourceVersion = old.ResourceVersion
		p.DeletionTimestamp, p.DeletionGracePeriodSeconds = old.DeletionTimestamp, old.DeletionGracePeriodSeconds
		// Orphaned, adopted or relabelled since: the cluster's word.
		p.OwnerReferences, p.Labels, p.Annotations = old.OwnerReferences, old.Labels, old.Annotations
		p.ManagedFields = old.ManagedFields
		p.Spec.Containers = keepImages(p.Spec.Containers, old)
		p.Spec.InitContainers = keepImages(p.Spec.InitContainers, old)
		if p.Kind == "" {
			p.TypeMeta = kube.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		}
		if sameJSON(p, old) {
			continue
		}
		c.storeLocked(Pods, "MODIFIED", p)
		c.podEventsLocked(old, p)
	}
}

// MaxPods bounds the pods a create may add to, as a kubelet's max-pods
// (110 by default) bounds a node's.
const MaxPods = 110

// CreatePod runs a new bare pod (kubectl run): p named, or named from
// its generateName, in one of the cluster's namespaces, valid as a
// manifest's pod. It is scheduled on the node and started by the runtime
// as a manifest's pod is.
func (c *Cluster) CreatePod(p *kube.Pod, opts ...WriteOptions) (*kube.Pod, error) {
	if c.runner == nil {
		return nil, ErrUnsupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	p = clone(p)
	if err := c.checkNamespaceLocked(p.Namespace); err != nil {
		return nil, err
	}
	if p.Name == "" && p.GenerateName != "" {
		for {
			p.Name = p.GenerateName + randomSuffix(5)
			if _, taken := c.objs[Pods][key{p.Namespace, p.Name}]; !taken {
				break
			}
		}
	}
	if err := p.Validate(); err != nil {
		return nil, invalidError(err)
	}
	if _, taken := c.objs[Pods][key{p.Namespace, p.Name}]; taken {
		return nil, ErrExists
	}
	if len(c.objs[Pods]) >= MaxPods {
		return nil, ErrTooManyPods
	}
	now := c.now()
	p.TypeMeta = kube.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	p.UID, p.CreationTimestamp, p.ResourceVersion, p.Generation = newUID(), timestamp(now), "", 0
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds, p.Finalizers = "", nil, nil
	p.Spec.NodeName = ""
	var applied any // what the writer set, before defaults
	if options(opts).Manager != "" {
		applied = jsonOf(p)
	}
	p.Spec.Default()
	p.Status = kube.PodStatus{Phase: "Pending"}
	p.ManagedFields = c.createdManagedLocked(applied, p, opts)
	if options(opts).DryRun {
		return p, nil
	}
	err := c.runner.AddPod(p)
	switch {
	case errors.Is(err, node.ErrExists):
		return nil, ErrExists // deleted at once, and still stopping
	case err != nil:
		return nil, &InvalidError{Msg: "spec: " + err.Error()} // what the runtime cannot run
	}
	c.storeLocked(Pods, "ADDED", p)
	c.scheduledLocked(p)
	c.wake()
	return p, nil
}

// DeletePod deletes a pod as the API server does: with grace > 0 it is
// marked for deletion (deletionTimestamp) and returned, its processes get
// grace to end, and then it is gone; with grace 0 it is gone at once.
// Either way its ReplicaSet, if any, replaces it at once.
func (c *Cluster) DeletePod(namespace, name string, grace int64, opts ...WriteOptions) (*kube.Pod, error) {
	if c.runner == nil {
		return nil, ErrUnsupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	k := key{namespace, name}
	o, ok := c.objs[Pods][k]
	if !ok {
		return nil, ErrNotFound
	}
	p := o.(*kube.Pod)
	if options(opts).DryRun {
		if p.DeletionTimestamp != "" {
			return p, nil
		}
		d := clone(p)
		d.DeletionTimestamp = timestamp(c.now().Add(time.Duration(grace) * time.Second))
		d.DeletionGracePeriodSeconds = ptr(grace)
		return d, nil
	}
	d := c.deletePodLocked(p, grace)
	c.wake()
	return d, nil
}

// removeLocked stops the pod's processes on a goroutine, then forgets the
// pod (DELETED) if it is still there.
func (c *Cluster) removeLocked(k key, grace int64) {
	g := time.Duration(grace) * time.Second
	if grace == 0 {
		g = -1
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.runner.RemovePodGrace(k.namespace, k.name, g); err != nil && !errors.Is(err, node.ErrNotFound) {
			c.log.Warn("remove pod", "namespace", k.namespace, "name", k.name, "err", err)
		}
		c.mu.Lock()
		c.deleteLocked(Pods, k)
		c.mu.Unlock()
		c.wake()
	}()
}

// keepImages is cs with the images old's containers of the same names
// have (patched since the runtime started them). cs is the runtime's own,
// which others read: it is copied before any change.
func keepImages(cs []kube.Container, old *kube.Pod) []kube.Container {
	cloned := false
	for i := range cs {
		if c := findContainer(old, cs[i].Name); c != nil && c.Image != cs[i].Image {
			if !cloned {
				cs, cloned = slices.Clone(cs), true
			}
			cs[i].Image = c.Image
		}
	}
	return cs
}

// sameJSON reports whether a and b encode alike (kube.SameJSON).
var sameJSON = kube.SameJSON

// plainDeployment and plainService are the kube types without their JSON
// methods, which clone goes around.
type (
	plainDeployment kube.Deployment
	plainService    kube.Service
)

// clone deep-copies an object through its JSON form. A Deployment's or
// Service's Unmodeled is shared, not copied: it is never changed in place,
// only replaced, and rebuilding it through the types' own JSON methods
// made a copy 2.5 times as slow, on the controllers' path.
func clone[T any](in T) T {
	switch v := any(in).(type) {
	case *kube.Deployment:
		if v != nil {
			out := (*kube.Deployment)(jsonCopy((*plainDeployment)(v)))
			out.Unmodeled = v.Unmodeled
			return any(out).(T)
		}
	case *kube.Service:
		if v != nil {
			out := (*kube.Service)(jsonCopy((*plainService)(v)))
			out.Unmodeled = v.Unmodeled
			return any(out).(T)
		}
	}
	return jsonCopy(in)
}

// jsonCopy deep-copies a value through its JSON form.
func jsonCopy[T any](in T) T {
	b, err := json.Marshal(in)
	if err != nil {
		panic(fmt.Sprintf("cluster: copy %T: %v", in, err)) // the kube types always encode
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("cluster: copy %T: %v", in, err))
	}
	return out
}

// withRV is a shallow copy of o whose resourceVersion is rv.
func withRV(o Object, rv uint64) Object {
	var out Object
	switch v := o.(type) {
	case *kube.Pod:
		c := *v
		out = &c
	case *kube.Service:
		c := *v
		out = &c
	case *kube.Deployment:
		c := *v
		out = &c
	case *kube.ReplicaSet:
		c := *v
		out = &c
	case *kube.Event:
		c := *v
		out = &c
	case *kube.Namespace:
		c := *v
		out = &c
	case *kube.ConfigMap:
		c := *v
		out = &c
	case *kube.Secret:
		c := *v
		out = &c
	default:
		return o
	}
	out.Meta().ResourceVersion = strconv.FormatUint(rv, 10)
	return out
}

func ptr[T any](v T) *T { return &v }

// timestamp formats t as Kubernetes serialises metav1.Time.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
