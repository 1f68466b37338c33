package cluster

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/porthole/porthole/kube"
)

// Labels and annotations the controllers set, as Kubernetes names them.
const (
	podTemplateHashLabel = "pod-template-hash"
	revisionAnnotation   = "deployment.kubernetes.io/revision"
	desiredAnnotation    = "deployment.kubernetes.io/desired-replicas"
	// maxReplicasAnnotation is desired+maxSurge, as the controller writes it.
	maxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
)

// reconcileLocked runs the namespace controller, then the Deployment and
// ReplicaSet controllers until nothing changes (bounded: each pass moves
// every workload one step).
func (c *Cluster) reconcileLocked() {
	if c.closed {
		return
	}
	c.finalizeNamespacesLocked()
	if c.runner == nil {
		return
	}
	for range 8 {
		rv := c.rv
		c.finalizeLocked()
		for _, o := range c.listLocked(Deployments, "", live) {
			c.syncDeploymentLocked(o.(*kube.Deployment))
		}
		for _, o := range c.listLocked(ReplicaSets, "", live) {
			c.syncReplicaSetLocked(o.(*kube.ReplicaSet))
		}
		if c.rv == rv {
			return
		}
	}
}

// adoptLocked makes owner the controller of the objects of res in
// namespace that sel selects and that have none, and releases those it
// controls that sel no longer selects, as the controllers claim their
// objects: a Deployment deleted with --cascade=orphan and made again
// takes its ReplicaSets back (rather than making one of the same name),
// a ReplicaSet its pods; a pod relabelled out of its ReplicaSet's
// selector is let go, and replaced.
func (c *Cluster) adoptLocked(res Resource, namespace string, sel *kube.LabelSelector, owner []kube.OwnerReference) {
	s, err := sel.Selector()
	if err != nil || s.Empty() {
		return
	}
	uid := owner[0].UID
	for _, o := range c.listLocked(res, namespace, func(o Object) bool {
		m := o.Meta()
		if m.DeletionTimestamp != "" {
			return false
		}
		ref, selected := m.ControllerOf(), s.Matches(kube.Label(m.Labels))
		return ref == nil && selected || ref != nil && ref.UID == uid && !selected
	}) {
		u := cloneObject(o)
		m := u.Meta()
		if m.ControllerOf() == nil {
			m.OwnerReferences = append(m.OwnerReferences, owner...)
		} else {
			m.OwnerReferences = slices.DeleteFunc(slices.Clone(m.OwnerReferences), func(r kube.OwnerReference) bool { return r.UID == uid })
		}
		c.storeLocked(res, "MODIFIED", u)
	}
}

// live says whether o is not being deleted: the controllers leave
// workloads being deleted to the deletion.
func live(o Object) bool { return o.Meta().DeletionTimestamp == "" }

func controlledBy(m *kube.ObjectMeta, uid string) bool {
	ref := m.ControllerOf()
	return ref != nil && ref.UID == uid
}

func controllerRef(kind, name, uid string) []kube.OwnerReference {
	return []kube.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
}

// syncDeploymentLocked makes sure the Deployment's current template has a
// ReplicaSet with the desired replicas, scales the older ones to zero as
// its strategy says (all at once before the new pods start for Recreate,
// step by step within the rolling update's bounds otherwise), and updates
// the status. Paused, or scaled, it only sizes the ReplicaSets there are.
func (c *Cluster) syncDeploymentLocked(d *kube.Deployment) {
	c.adoptLocked(ReplicaSets, d.Namespace, d.Spec.Selector, controllerRef("Deployment", d.Name, d.UID))
	desired := kube.Replicas(d.Spec.Replicas)
	hash := templateHash(&d.Spec.Template)
	var cur *kube.ReplicaSet
	var old []*kube.ReplicaSet
	revision := 0
	for _, o := range c.listLocked(ReplicaSets, d.Namespace, nil) {
		rs := o.(*kube.ReplicaSet)
		if !controlledBy(&rs.ObjectMeta, d.UID) {
			continue
		}
		if r, err := strconv.Atoi(rs.Annotations[revisionAnnotation]); err == nil {
			revision = max(revision, r)
		}
		if rs.Labels[podTemplateHashLabel] == hash {
			cur = rs
		} else {
			old = append(old, rs)
		}
	}
	if d.Spec.Paused || scalingEvent(d, cur, old) {
		// As the Deployment controller, scaling comes before rolling out:
		// paused, or with a desired count its ReplicaSets were not sized
		// for, it shares the count out among them and creates none (a
		// paused Deployment keeps its template change for later).
		if cur != nil {
			cur = c.syncRevisionLocked(d, cur, revision)
		}
		c.proportionLocked(d, cur, old)
		c.deploymentStatusLocked(d, cur, old, desired, false)
		if o, ok := c.objs[Deployments][key{d.Namespace, d.Name}]; ok {
			if d = o.(*kube.Deployment); d.Spec.Paused || complete(d) {
				c.cleanupLocked(d, old)
			}
		}
		return
	}
	rolling := d.Spec.Strategy != nil && d.Spec.Strategy.Type == kube.RollingUpdateDeploymentStrategy
	if !rolling && c.recreateLocked(d, old) {
		// The new ReplicaSet waits until every old pod is gone.
		c.deploymentStatusLocked(d, cur, old, desired, false)
		return
	}
	if cur == nil && len(c.objs[ReplicaSets]) >= MaxReplicaSets {
		// As a quota refuses it: said once, retried on every change.
		if !c.starved[d.UID] {
			c.starved[d.UID] = true
			c.emitLocked(d, "", "Warning", "FailedCreate",
				fmt.Sprintf("Failed to create new replica set %q: serve holds at most %d replica sets", d.Name+"-"+hash, MaxReplicaSets), deploymentController)
		}
		c.deploymentStatusLocked(d, nil, old, desired, false)
		return
	}
	delete(c.starved, d.UID)
	// A rolling update moves within its bounds: the new ReplicaSet grows
	// while the pods of all stay under desired+maxSurge, the old ones shrink
	// while the available stay over desired-maxUnavailable. Recreate's old
	// ones are gone already.
	created := cur == nil
	if created {
		target := desired
		if rolling {
			target = rollingTarget(d, nil, old)
		}
		cur = c.newReplicaSet(d, hash, revision+1, target)
		c.storeLocked(ReplicaSets, "ADDED", cur)
		if target > 0 {
			c.scaledLocked(d, cur.Name, 0, target)
		}
	} else {
		cur = c.syncRevisionLocked(d, cur, revision)
		target := desired
		if rolling {
			target = rollingTarget(d, cur, old)
		}
		if kube.Replicas(cur.Spec.Replicas) != target || staleCounts(d, cur) {
			cur = c.scaleLocked(d, cur, target, nil)
		}
	}
	if rolling {
		c.rollOldLocked(d, cur, old)
	}
	c.deploymentStatusLocked(d, cur, old, desired, created)
	if o, ok := c.objs[Deployments][key{d.Namespace, d.Name}]; ok {
		if d = o.(*kube.Deployment); d.Spec.Paused || complete(d) {
			c.cleanupLocked(d, old)
		}
	}
}

// MaxReplicaSets bounds the ReplicaSets of all Deployments: each holds a
// copy of a pod template, up to MaxObjectBytes.
const MaxReplicaSets = 1024

// maxRevisionHistory bounds the old ReplicaSets kept whatever a
// Deployment's revisionHistoryLimit: each holds a copy of a template.
const maxRevisionHistory = 32

// cleanupLocked deletes d's oldest ReplicaSets beyond its
// revisionHistoryLimit, as the Deployment controller does once a rollout
// is complete (or paused): only those scaled to zero with no pods left.
func (c *Cluster) cleanupLocked(d *kube.Deployment, old []*kube.ReplicaSet) {
	limit := maxRevisionHistory
	if n := d.Spec.RevisionHistoryLimit; n != nil {
		limit = min(limit, int(*n))
	}
	if len(old) <= limit {
		return
	}
	old = slices.Clone(old)
	slices.SortFunc(old, func(a, b *kube.ReplicaSet) int {
		return atoi(a.Annotations[revisionAnnotation]) - atoi(b.Annotations[revisionAnnotation])
	})
	for _, rs := range old[:len(old)-limit] {
		k := key{rs.Namespace, rs.Name}
		o, ok := c.objs[ReplicaSets][k]
		if !ok {
			continue
		}
		rs = o.(*kube.ReplicaSet)
		if rs.Status.Replicas != 0 || kube.Replicas(rs.Spec.Replicas) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		c.deleteLocked(ReplicaSets, k)
	}
}

// complete says whether d's rollout is done: every replica updated and
// available, no old one left, and its latest generation observed.
func complete(d *kube.Deployment) bool {
	st, want := &d.Status, kube.Replicas(d.Spec.Replicas)
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want && st.ObservedGeneration >= d.Generation
}

// recreateLocked scales d's old ReplicaSets to zero, as the Recreate
// strategy does first, and says whether any of their pods is still there
// (terminating ones included): until none is, the new pods wait.
func (c *Cluster) recreateLocked(d *kube.Deployment, old []*kube.ReplicaSet) bool {
	c.scaleDownLocked(d, old)
	uids := map[string]bool{}
	for _, rs := range old {
		uids[rs.UID] = true
	}
	return len(c.listLocked(Pods, d.Namespace, func(o Object) bool {
		ref := o.Meta().ControllerOf()
		return ref != nil && uids[ref.UID]
	})) > 0
}

// scaleDownLocked scales d's ReplicaSets old to zero.
func (c *Cluster) scaleDownLocked(d *kube.Deployment, old []*kube.ReplicaSet) {
	for _, rs := range old {
		if kube.Replicas(rs.Spec.Replicas) != 0 {
			c.scaleLocked(d, rs, 0, nil)
		}
	}
}

// scaleLocked sets rs's replicas to n, with the annotations the Deployment
// controller keeps on the ReplicaSets it scales (desired-replicas,
// max-replicas), and says so in an event when the count changes; edit, if
// given, changes the stored copy too. It returns the stored copy.
func (c *Cluster) scaleLocked(d *kube.Deployment, rs *kube.ReplicaSet, n int32, edit func(*kube.ReplicaSet)) *kube.ReplicaSet {
	if from := kube.Replicas(rs.Spec.Replicas); from != n {
		c.scaledLocked(d, rs.Name, from, n)
	}
	u := clone(rs)
	u.Spec.Replicas = ptr(n)
	u.Generation++
	if u.Annotations == nil {
		u.Annotations = map[string]string{}
	}
	desired := kube.Replicas(d.Spec.Replicas)
	u.Annotations[desiredAnnotation] = strconv.Itoa(int(desired))
	u.Annotations[maxReplicasAnnotation] = strconv.Itoa(int(maxReplicas(d)))
	if edit != nil {
		edit(u)
	}
	c.storeLocked(ReplicaSets, "MODIFIED", u)
	return u
}

// syncRevisionLocked makes cur, the ReplicaSet of d's template, what the
// Deployment controller keeps it: the newest revision (a rollback to an
// older template makes it so again) with d's minReadySeconds.
func (c *Cluster) syncRevisionLocked(d *kube.Deployment, cur *kube.ReplicaSet, revision int) *kube.ReplicaSet {
	rollback := atoi(cur.Annotations[revisionAnnotation]) < revision
	if !rollback && cur.Spec.MinReadySeconds == d.Spec.MinReadySeconds {
		return cur
	}
	u := clone(cur)
	if rollback {
		u.Annotations[revisionAnnotation] = strconv.Itoa(revision + 1)
	}
	if u.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		u.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		u.Generation++
	}
	c.storeLocked(ReplicaSets, "MODIFIED", u)
	return u
}

// scalingEvent says whether d's desired count changed since its active
// ReplicaSets were sized (their desired-replicas annotation says for
// what), as the Deployment controller tells a scale from a rollout.
func scalingEvent(d *kube.Deployment, cur *kube.ReplicaSet, old []*kube.ReplicaSet) bool {
	for _, rs := range append(slices.Clone(old), cur) {
		if rs == nil || kube.Replicas(rs.Spec.Replicas) == 0 {
			continue
		}
		if n, err := strconv.Atoi(rs.Annotations[desiredAnnotation]); err == nil && int32(n) != kube.Replicas(d.Spec.Replicas) {
			return true
		}
	}
	return false
}

// proportionLocked sizes d's ReplicaSets for its desired count without
// rolling out, as the Deployment controller scales: the only active one
// (or, with none, the current or newest) takes the whole count; a
// current one saturated leaves the old ones none; else, in a rolling
// update, each active one grows or shrinks in proportion to its size,
// within desired+maxSurge, the largest taking what rounding leaves.
func (c *Cluster) proportionLocked(d *kube.Deployment, cur *kube.ReplicaSet, old []*kube.ReplicaSet) {
	desired := kube.Replicas(d.Spec.Replicas)
	byAge := slices.Clone(old)
	slices.SortFunc(byAge, olderFirst)
	var active []*kube.ReplicaSet
	for _, rs := range append(byAge, cur) {
		if rs != nil && kube.Replicas(rs.Spec.Replicas) > 0 {
			active = append(active, rs)
		}
	}
	resize := func(rs *kube.ReplicaSet, n int32) {
		if kube.Replicas(rs.Spec.Replicas) != n || staleCounts(d, rs) {
			c.scaleLocked(d, rs, n, nil)
		}
	}
	switch {
	case len(active) == 1:
		resize(active[0], desired)
		return
	case len(active) == 0 && cur != nil:
		resize(cur, desired)
		return
	case len(active) == 0 && len(byAge) > 0:
		resize(byAge[len(byAge)-1], desired)
		return
	case len(active) == 0:
		return
	}
	if cur != nil && kube.Replicas(cur.Spec.Replicas) == desired && cur.Annotations[desiredAnnotation] == strconv.Itoa(int(desired)) &&
		cur.Status.AvailableReplicas == desired {
		for _, rs := range old {
			if kube.Replicas(rs.Spec.Replicas) > 0 {
				c.scaleLocked(d, rs, 0, nil)
			}
		}
		return
	}
	if d.Spec.Strategy == nil || d.Spec.Strategy.Type != kube.RollingUpdateDeploymentStrategy {
		return
	}
	allowed := int64(0)
	if desired > 0 {
		allowed = int64(maxReplicas(d))
	}
	toAdd := allowed - sumReplicas(active)
	// Largest first; of equal size, the newer first when growing, the
	// older when shrinking.
	slices.SortStableFunc(active, func(a, b *kube.ReplicaSet) int {
		if n := kube.Replicas(b.Spec.Replicas) - kube.Replicas(a.Spec.Replicas); n != 0 {
			return int(n)
		}
		if toAdd > 0 {
			return olderFirst(b, a)
		}
		return olderFirst(a, b)
	})
	sizes := make([]int64, len(active))
	var added int64
	for i, rs := range active {
		sizes[i] = int64(kube.Replicas(rs.Spec.Replicas))
		if toAdd != 0 {
			p := proportion(d, rs, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	if toAdd != 0 {
		sizes[0] += toAdd - added
	}
	for i, rs := range active {
		resize(rs, int32(min(max(sizes[i], 0), math.MaxInt32)))
	}
}

// proportion is what rs gains (or loses) of toAdd pods, added of which
// went to larger ReplicaSets already: its size scaled by the Deployment's
// maximum now over the maximum it was sized for (its max-replicas
// annotation, else the pods there are), rounded, within what is left.
func proportion(d *kube.Deployment, rs *kube.ReplicaSet, toAdd, added int64) int64 {
	n := int64(kube.Replicas(rs.Spec.Replicas))
	if n == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	var fraction int64
	desired := kube.Replicas(d.Spec.Replicas)
	before, err := strconv.Atoi(rs.Annotations[maxReplicasAnnotation])
	if err != nil || before == 0 {
		before = int(d.Status.Replicas)
	}
	switch {
	case desired == 0:
		fraction = -n
	case before == 0:
		fraction = 0
	default:
		fraction = int64(math.Floor(float64(n)*float64(maxReplicas(d))/float64(before)+0.5)) - n
	}
	if toAdd > 0 {
		return min(fraction, toAdd-added)
	}
	return max(fraction, toAdd-added)
}

// olderFirst orders ReplicaSets by creation, then name.
func olderFirst(a, b *kube.ReplicaSet) int {
	if n := compareStrings(a.CreationTimestamp, b.CreationTimestamp); n != 0 {
		return n
	}
	return compareStrings(a.Name, b.Name)
}

// staleCounts says whether rs's desired-replicas and max-replicas
// annotations are not d's now.
func staleCounts(d *kube.Deployment, rs *kube.ReplicaSet) bool {
	desired := kube.Replicas(d.Spec.Replicas)
	return rs.Annotations[desiredAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[maxReplicasAnnotation] != strconv.Itoa(int(maxReplicas(d)))
}

// bounds are d's rolling update bounds in pods, as the Deployment
// controller resolves them: maxSurge rounded up, maxUnavailable down and
// at most the replicas, and never both zero (then one may be unavailable).
func bounds(d *kube.Deployment) (surge, unavailable int32) {
	desired := kube.Replicas(d.Spec.Replicas)
	st := d.Spec.Strategy
	if st == nil || st.Type != kube.RollingUpdateDeploymentStrategy || st.RollingUpdate == nil {
		return 0, 0
	}
	surge = kube.ScaledBound(st.RollingUpdate.MaxSurge, desired, true)
	unavailable = kube.ScaledBound(st.RollingUpdate.MaxUnavailable, desired, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, min(unavailable, desired)
}

func maxSurge(d *kube.Deployment) int32 {
	surge, _ := bounds(d)
	return surge
}

// maxReplicas is desired+maxSurge, the most pods d's rolling update runs
// (its ReplicaSets' max-replicas annotation), held at the int32 limit
// rather than wrapping round to a negative count.
func maxReplicas(d *kube.Deployment) int32 {
	return int32(min(int64(kube.Replicas(d.Spec.Replicas))+int64(maxSurge(d)), math.MaxInt32))
}

// sumReplicas is the replicas of sets, in an int64: up to the int32 limit
// each, they may overflow an int32 together.
func sumReplicas(sets []*kube.ReplicaSet) int64 {
	var n int64
	for _, rs := range sets {
		n += int64(kube.Replicas(rs.Spec.Replicas))
	}
	return n
}

// rollingTarget is the replicas of d's current ReplicaSet cur (nil: none
// yet) in a rolling update: the desired count, reached as fast as the
// pods of all its ReplicaSets stay within desired+maxSurge.
func rollingTarget(d *kube.Deployment, cur *kube.ReplicaSet, old []*kube.ReplicaSet) int32 {
	desired := kube.Replicas(d.Spec.Replicas)
	var now int32
	if cur != nil {
		now = kube.Replicas(cur.Spec.Replicas)
	}
	if now >= desired {
		return desired
	}
	room := int64(maxReplicas(d)) - int64(now) - sumReplicas(old)
	if room <= 0 {
		return now
	}
	return now + int32(min(room, int64(desired-now)))
}

// rollOldLocked scales d's old ReplicaSets down as far as its bounds let
// it, as the Deployment controller does: first the pods that are not
// available (they serve nobody), oldest ReplicaSet first, then available
// ones while the available pods stay at desired-maxUnavailable or more.
func (c *Cluster) rollOldLocked(d *kube.Deployment, cur *kube.ReplicaSet, old []*kube.ReplicaSet) {
	desired := kube.Replicas(d.Spec.Replicas)
	_, unavailable := bounds(d)
	minAvailable := desired - unavailable
	old = slices.Clone(old)
	slices.SortFunc(old, olderFirst)
	oldPods := sumReplicas(old)
	if oldPods == 0 {
		return
	}
	newUnavailable := kube.Replicas(cur.Spec.Replicas) - cur.Status.AvailableReplicas
	budget := oldPods + int64(kube.Replicas(cur.Spec.Replicas)) - int64(minAvailable) - int64(newUnavailable)
	if budget <= 0 {
		return // no pod may go yet
	}
	for i, rs := range old {
		n := kube.Replicas(rs.Spec.Replicas)
		if budget <= 0 {
			break
		}
		if n == 0 || n <= rs.Status.AvailableReplicas { // (more available than asked for: being scaled down already)
			continue
		}
		down := int32(min(budget, int64(n-rs.Status.AvailableReplicas)))
		old[i] = c.scaleLocked(d, rs, n-down, nil)
		budget -= int64(down)
	}
	available := int64(cur.Status.AvailableReplicas)
	for _, rs := range old {
		available += int64(rs.Status.AvailableReplicas)
	}
	excess := available - int64(minAvailable)
	for i, rs := range old {
		n := kube.Replicas(rs.Spec.Replicas)
		if excess <= 0 {
			break
		}
		if n == 0 {
			continue
		}
		down := int32(min(int64(n), excess))
		old[i] = c.scaleLocked(d, rs, n-down, nil)
		excess -= int64(down)
	}
}

// deploymentStatusLocked updates d's status from its ReplicaSets: cur,
// the one of its template (nil: none yet), and the others; and its
// revision annotation, the newest ReplicaSet's, as the controller sets it.
// One change, stored once.
func (c *Cluster) deploymentStatusLocked(d *kube.Deployment, cur *kube.ReplicaSet, old []*kube.ReplicaSet, desired int32, created bool) {
	st := kube.DeploymentStatus{ObservedGeneration: d.Generation}
	all := old
	if cur != nil {
		st.UpdatedReplicas = cur.Status.Replicas
		all = append(old, cur)
	}
	for _, rs := range all {
		if latest, ok := c.objs[ReplicaSets][key{rs.Namespace, rs.Name}]; ok {
			rs = latest.(*kube.ReplicaSet)
		}
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
	}
	st.UnavailableReplicas = max(0, desired-st.AvailableReplicas)
	name := ""
	if cur != nil {
		name = cur.Name
	}
	st.Conditions = c.deploymentConditions(d, &st, desired, name, created)
	rev := d.Annotations[revisionAnnotation]
	if cur != nil {
		rev = cur.Annotations[revisionAnnotation]
	}
	if !sameJSON(st, d.Status) || rev != d.Annotations[revisionAnnotation] {
		u := clone(d)
		u.Status = st
		if rev != "" {
			if u.Annotations == nil {
				u.Annotations = map[string]string{}
			}
			u.Annotations[revisionAnnotation] = rev
		}
		c.storeLocked(Deployments, "MODIFIED", u)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// newReplicaSet is the ReplicaSet of d for the template with this hash:
// named DEPLOYMENT-HASH, its selector and template labels extended with
// pod-template-hash so its pods are its own.
func (c *Cluster) newReplicaSet(d *kube.Deployment, hash string, revision int, replicas int32) *kube.ReplicaSet {
	tmpl := clone(d.Spec.Template)
	tmpl.Labels = maps.Clone(tmpl.Labels)
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[podTemplateHashLabel] = hash
	sel := clone(d.Spec.Selector)
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[podTemplateHashLabel] = hash
	desired := kube.Replicas(d.Spec.Replicas)
	rs := &kube.ReplicaSet{
		TypeMeta: kube.TypeMeta{Kind: "ReplicaSet", APIVersion: "apps/v1"},
		ObjectMeta: kube.ObjectMeta{
			Name:              d.Name + "-" + hash,
			Namespace:         d.Namespace,
			UID:               newUID(),
			Generation:        1,
			CreationTimestamp: timestamp(c.now()),
			Labels:            maps.Clone(tmpl.Labels),
			Annotations: map[string]string{
				revisionAnnotation:    strconv.Itoa(revision),
				desiredAnnotation:     strconv.Itoa(int(desired)),
				maxReplicasAnnotation: strconv.Itoa(int(maxReplicas(d))),
			},
			OwnerReferences: controllerRef("Deployment", d.Name, d.UID),
		},
		Spec: kube.ReplicaSetSpec{Replicas: ptr(replicas), MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: tmpl},
	}
	rs.ManagedFields = c.controllerManaged(rs)
	return rs
}

// controllerManager names the controllers' writes in managedFields, as
// the API server names those of its controller manager.
const controllerManager = "kube-controller-manager"

// controllerManaged is the managedFields of an object a controller
// creates: all it has, the controller manager's.
func (c *Cluster) controllerManaged(o Object) []kube.ManagedFieldsEntry {
	return updateManaged(nil, o, nil, timestamp(c.now()), WriteOptions{Manager: controllerManager})
}

// syncReplicaSetLocked creates or deletes pods until the ReplicaSet has
// its replicas (pods being deleted do not count), then updates its status.
func (c *Cluster) syncReplicaSetLocked(rs *kube.ReplicaSet) {
	c.adoptLocked(Pods, rs.Namespace, rs.Spec.Selector, controllerRef("ReplicaSet", rs.Name, rs.UID))
	var active []*kube.Pod
	for _, o := range c.listLocked(Pods, rs.Namespace, nil) {
		p := o.(*kube.Pod)
		if controlledBy(&p.ObjectMeta, rs.UID) && p.DeletionTimestamp == "" {
			active = append(active, p)
		}
	}
	want := int(kube.Replicas(rs.Spec.Replicas))
	for len(active) < want {
		if len(c.objs[Pods]) >= MaxPods {
			// As a quota refuses pods: said once, retried on every change.
			if !c.starved[rs.UID] {
				c.starved[rs.UID] = true
				c.emitLocked(rs, "", "Warning", "FailedCreate",
					fmt.Sprintf("Error creating: pods %q is forbidden: %v", rs.Name+"-", ErrTooManyPods), replicaSetController)
			}
			break
		}
		p := c.newPod(rs)
		if err := c.runner.AddPod(p); err != nil {
			c.log.Error("run pod", "namespace", p.Namespace, "name", p.Name, "err", err)
			break
		}
		c.storeLocked(Pods, "ADDED", p)
		c.emitLocked(rs, "", "Normal", "SuccessfulCreate", "Created pod: "+p.Name, replicaSetController)
		c.scheduledLocked(p)
		active = append(active, p)
	}
	if len(active) >= want {
		delete(c.starved, rs.UID)
	}
	if len(active) > want {
		// Not ready first, then the newest, as the controller picks.
		slices.SortStableFunc(active, func(a, b *kube.Pod) int {
			if a.IsReady() != b.IsReady() {
				if a.IsReady() {
					return 1
				}
				return -1
			}
			return -compareStrings(a.CreationTimestamp, b.CreationTimestamp)
		})
		for _, p := range active[:len(active)-want] {
			c.deletePodLocked(p, podGrace(p))
			c.emitLocked(rs, "", "Normal", "SuccessfulDelete", "Deleted pod: "+p.Name, replicaSetController)
		}
		active = active[len(active)-want:]
	}
	st := kube.ReplicaSetStatus{Replicas: int32(len(active)), FullyLabeledReplicas: int32(len(active)), ObservedGeneration: rs.Generation}
	now := c.now()
	for _, p := range active {
		if p.IsReady() {
			st.ReadyReplicas++
			if at, ok := availableAt(p, rs.Spec.MinReadySeconds); ok && at.Before(now) {
				st.AvailableReplicas++
			}
		}
	}
	if st != rs.Status {
		u := clone(rs)
		u.Status = st
		c.storeLocked(ReplicaSets, "MODIFIED", u)
	}
}

// availableAt is when ready pod p counts as available: at once without
// minReady, else minReady seconds after it became ready (false when that
// is not known), as the controllers judge it.
func availableAt(p *kube.Pod, minReady int32) (time.Time, bool) {
	if minReady <= 0 {
		return time.Time{}, true
	}
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			since, err := time.Parse(time.RFC3339, c.LastTransitionTime)
			return since.Add(time.Duration(minReady) * time.Second), err == nil
		}
	}
	return time.Time{}, false
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newPod is a pod of rs: RS-xxxxx, the template's labels, annotations and
// spec, owned by rs.
func (c *Cluster) newPod(rs *kube.ReplicaSet) *kube.Pod {
	tmpl := clone(rs.Spec.Template)
	var name string
	for {
		name = rs.Name + "-" + randomSuffix(5)
		if _, taken := c.objs[Pods][key{rs.Namespace, name}]; !taken {
			break
		}
	}
	p := &kube.Pod{
		TypeMeta: kube.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: kube.ObjectMeta{
			Name:              name,
			GenerateName:      rs.Name + "-",
			Namespace:         rs.Namespace,
			UID:               newUID(),
			CreationTimestamp: timestamp(c.now()),
			Labels:            tmpl.Labels,
			Annotations:       tmpl.Annotations,
			OwnerReferences:   controllerRef("ReplicaSet", rs.Name, rs.UID),
		},
		Spec:   tmpl.Spec,
		Status: kube.PodStatus{Phase: "Pending"},
	}
	p.ManagedFields = c.controllerManaged(p)
	return p
}

// alphabet is the characters of generated names: no vowels (no words),
// no look-alikes, as Kubernetes generates them.
const alphabet = "bcdfghjklmnpqrstvwxz2456789"

func randomSuffix(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// templateHash names a pod template: FNV-32a of its JSON form, its
// decimal digits spelled in alphabet (as the Deployment controller's
// pod-template-hash looks).
func templateHash(t *kube.PodTemplateSpec) string {
	h := fnv.New32a()
	b, _ := json.Marshal(t)
	h.Write(b)
	digits := strconv.FormatUint(uint64(h.Sum32()), 10)
	out := make([]byte, len(digits))
	for i := range digits {
		out[i] = alphabet[int(digits[i])%len(alphabet)]
	}
	return string(out)
}

// newUID returns a random RFC 4122 version 4 UUID, the form Kubernetes
// uses.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// deploymentConditions are d's conditions for status st, as the
// Deployment controller sets them: Available while no more than
// maxUnavailable of the desired replicas are not available, and Progressing, true while the
// newest ReplicaSet rolls out and once it has. A rollout that makes no
// progress (more updated, ready or available replicas, fewer old ones)
// for the progress deadline turns Progressing False with reason
// ProgressDeadlineExceeded, which fails kubectl rollout status; without a
// deadline there is no Progressing condition. A condition whose status
// and reason hold keeps its times, except Progressing's update time on
// progress; one whose status holds keeps its transition time. A
// completed rollout stays complete until the next.
func (c *Cluster) deploymentConditions(d *kube.Deployment, st *kube.DeploymentStatus, desired int32, rs string, created bool) []kube.DeploymentCondition {
	now := timestamp(c.now())
	set := func(typ string, ok bool, reason, msg string) kube.DeploymentCondition {
		status := "False"
		if ok {
			status = "True"
		}
		if reason == "DeploymentPaused" {
			status = "Unknown"
		}
		next := kube.DeploymentCondition{Type: typ, Status: status, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now}
		for _, prev := range d.Status.Conditions {
			switch {
			case prev.Type != typ:
			case prev.Status == status && prev.Reason == reason:
				return prev
			case prev.Status == status:
				next.LastTransitionTime = prev.LastTransitionTime
			}
		}
		return next
	}
	_, unavailable := bounds(d)
	available := set("Available", st.AvailableReplicas >= desired-unavailable, "MinimumReplicasAvailable", "Deployment has minimum availability.")
	if available.Status == "False" {
		available = set("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
	}
	deadline, ok := progressDeadline(d)
	if !ok {
		return []kube.DeploymentCondition{available}
	}
	var prev *kube.DeploymentCondition
	if i := slices.IndexFunc(d.Status.Conditions, func(c kube.DeploymentCondition) bool { return c.Type == "Progressing" }); i >= 0 {
		prev = &d.Status.Conditions[i]
	}
	about := fmt.Sprintf("ReplicaSet %q", rs)
	if rs == "" {
		about = fmt.Sprintf("Deployment %q", d.Name)
	}
	var progressing kube.DeploymentCondition
	switch {
	case d.Spec.Paused:
		progressing = set("Progressing", false, "DeploymentPaused", "Deployment is paused")
	case st.Replicas == st.UpdatedReplicas && prev != nil && prev.Reason == "NewReplicaSetAvailable":
		// A completed rollout stays complete until the next one,
		// whatever its pods do since.
		progressing = *prev
	case st.UpdatedReplicas == desired && st.Replicas == desired && st.AvailableReplicas == desired:
		progressing = set("Progressing", true, "NewReplicaSetAvailable", about+" has successfully progressed.")
	case created:
		progressing = set("Progressing", true, "NewReplicaSetCreated", fmt.Sprintf("Created new replica set %q", rs))
	case progressed(&d.Status, st):
		// Progress renews the update time the deadline counts from.
		progressing = set("Progressing", true, "ReplicaSetUpdated", about+" is progressing.")
		progressing.LastUpdateTime = now
	case prev != nil && prev.Reason != "DeploymentPaused" && timedOut(prev, deadline, c.now()):
		progressing = set("Progressing", false, "ProgressDeadlineExceeded", about+" has timed out progressing.")
	case prev != nil && prev.Reason != "DeploymentPaused":
		progressing = *prev
	default:
		progressing = set("Progressing", true, "ReplicaSetUpdated", about+" is progressing.")
	}
	return []kube.DeploymentCondition{available, progressing}
}

// progressDeadline is d's progress deadline; false when it has none.
func progressDeadline(d *kube.Deployment) (time.Duration, bool) {
	s := d.Spec.ProgressDeadlineSeconds
	if s == nil || *s == math.MaxInt32 {
		return 0, false
	}
	return time.Duration(*s) * time.Second, true
}

// progressed says whether a rollout moved between two statuses, as the
// Deployment controller judges it.
func progressed(was, is *kube.DeploymentStatus) bool {
	return is.UpdatedReplicas > was.UpdatedReplicas ||
		is.Replicas-is.UpdatedReplicas < was.Replicas-was.UpdatedReplicas ||
		is.ReadyReplicas > was.ReadyReplicas ||
		is.AvailableReplicas > was.AvailableReplicas
}

// timedOut says whether a rollout whose Progressing condition is cond
// has gone deadline without progress at now; once timed out, it stays so
// until it progresses.
func timedOut(cond *kube.DeploymentCondition, deadline time.Duration, now time.Time) bool {
	switch cond.Reason {
	case "NewReplicaSetAvailable":
		return false
	case "ProgressDeadlineExceeded":
		return true
	}
	from, err := time.Parse(time.RFC3339, cond.LastUpdateTime)
	return err == nil && from.Add(deadline).Before(now)
}

// nextDeadlineLocked is when the earliest rollout in progress reaches its
// progress deadline, a ready pod becomes available (minReadySeconds), or
// a terminating namespace settles, if nothing else happens; zero for
// none. Nothing else wakes the controllers when a rollout is stuck.
func (c *Cluster) nextDeadlineLocked() time.Time {
	now := c.now()
	next := c.settleDeadlineLocked(now)
	for _, o := range c.objs[ReplicaSets] {
		rs := o.(*kube.ReplicaSet)
		if rs.Spec.MinReadySeconds <= 0 || rs.Status.ReadyReplicas == rs.Status.AvailableReplicas {
			continue
		}
		for _, p := range c.listLocked(Pods, rs.Namespace, nil) {
			p := p.(*kube.Pod)
			if !controlledBy(&p.ObjectMeta, rs.UID) || !p.IsReady() {
				continue
			}
			// Available once strictly after: a moment past.
			if at, ok := availableAt(p, rs.Spec.MinReadySeconds); ok && !at.Before(now) {
				if at = at.Add(time.Millisecond); next.IsZero() || at.Before(next) {
					next = at
				}
			}
		}
	}
	for _, o := range c.objs[Deployments] {
		d := o.(*kube.Deployment)
		deadline, ok := progressDeadline(d)
		if !ok {
			continue
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type != "Progressing" || cond.Status != "True" || cond.Reason == "NewReplicaSetAvailable" {
				continue
			}
			from, err := time.Parse(time.RFC3339, cond.LastUpdateTime)
			if err != nil {
				continue
			}
			// Past the deadline: timedOut needs now strictly after.
			if at := from.Add(deadline + time.Millisecond); next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	return next
}
