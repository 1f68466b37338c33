package cluster

import (
	"fmt"
	"time"

	"github.com/porthole/porthole/kube"
)

// Events are what happened to the cluster's objects, told as the
// components of a real cluster tell it (the scheduler, the kubelet, the
// ReplicaSet and Deployment controllers), for kubectl describe and kubectl
// events: a pod started, crashed and waits, is being stopped; a
// ReplicaSet made or removed a pod; a Deployment scaled. An event seen
// again is counted, not repeated, as the components' recorders do.
const Events Resource = "events"

// Bounds of the events kept: the API server's default time to live, and
// a count that bounds memory in a crash loop across many pods.
const (
	eventTTL  = time.Hour
	maxEvents = 1000
)

// The components that report events.
const (
	kubelet              = "kubelet"
	scheduler            = "default-scheduler"
	replicaSetController = "replicaset-controller"
	deploymentController = "deployment-controller"
)

// eventKey is what makes two events the same one, counted.
type eventKey struct {
	uid, fieldPath, typ, reason, message, component string
}

// events is the bookkeeping of the stored events.
type events struct {
	byKey map[eventKey]string // event name by what it says
	order []eventEntry        // oldest first, for expiry
}

type eventEntry struct {
	k    key
	what eventKey
}

// emitLocked records that something happened to obj (a pod, fieldPath
// naming a container of it, a ReplicaSet or a Deployment), or counts it
// again if it was recorded before and is still kept.
func (c *Cluster) emitLocked(obj Object, fieldPath, typ, reason, message, component string) {
	m := obj.Meta()
	now := c.now()
	what := eventKey{m.UID, fieldPath, typ, reason, message, component}
	if name, ok := c.events.byKey[what]; ok {
		if o, ok := c.objs[Events][key{m.Namespace, name}]; ok {
			e := clone(o.(*kube.Event))
			e.Count++
			e.LastTimestamp = timestamp(now)
			c.storeLocked(Events, "MODIFIED", e)
			return
		}
	}
	c.expireEventsLocked(now)
	kind, apiVersion := kindOf(obj)
	name := fmt.Sprintf("%s.%x", m.Name, now.UnixNano())
	for n := now.UnixNano(); c.objs[Events][key{m.Namespace, name}] != nil; {
		n++
		name = fmt.Sprintf("%s.%x", m.Name, n)
	}
	host := ""
	if component == kubelet {
		host = kube.LocalNodeName
	}
	e := &kube.Event{
		TypeMeta:   kube.TypeMeta{Kind: "Event", APIVersion: "v1"},
		ObjectMeta: kube.ObjectMeta{Name: name, Namespace: m.Namespace, UID: newUID(), CreationTimestamp: timestamp(now)},
		InvolvedObject: kube.ObjectReference{Kind: kind, Namespace: m.Namespace, Name: m.Name, UID: m.UID,
			APIVersion: apiVersion, ResourceVersion: m.ResourceVersion, FieldPath: fieldPath},
		Reason: reason, Message: message, Type: typ, Count: 1,
		Source:         kube.EventSource{Component: component, Host: host},
		FirstTimestamp: timestamp(now), LastTimestamp: timestamp(now),
		ReportingController: component, ReportingInstance: host,
	}
	c.storeLocked(Events, "ADDED", e)
	c.events.byKey[what] = name
	c.events.order = append(c.events.order, eventEntry{key{m.Namespace, name}, what})
}

// expireEventsLocked forgets the oldest events while there are too many,
// and those not seen again for eventTTL.
func (c *Cluster) expireEventsLocked(now time.Time) {
	for len(c.events.order) > 0 {
		head := c.events.order[0]
		if o, ok := c.objs[Events][head.k]; ok && len(c.events.order) < maxEvents {
			last, err := time.Parse(time.RFC3339, o.(*kube.Event).LastTimestamp)
			if err == nil && now.Sub(last) < eventTTL {
				return
			}
		}
		c.deleteLocked(Events, head.k)
		if c.events.byKey[head.what] == head.k.name {
			delete(c.events.byKey, head.what)
		}
		c.events.order[0] = eventEntry{}
		c.events.order = c.events.order[1:]
	}
}

// kindOf is the kind and API version of an object the cluster stores.
func kindOf(o Object) (kind, apiVersion string) {
	switch o.(type) {
	case *kube.Pod:
		return "Pod", "v1"
	case *kube.ReplicaSet:
		return "ReplicaSet", "apps/v1"
	case *kube.Deployment:
		return "Deployment", "apps/v1"
	case *kube.Service:
		return "Service", "v1"
	}
	return "", ""
}

// containerPath is the fieldPath of a pod's container.
func containerPath(name string) string { return "spec.containers{" + name + "}" }

// scheduledLocked tells of a new pod bound to the node.
func (c *Cluster) scheduledLocked(p *kube.Pod) {
	c.emitLocked(p, "", "Normal", "Scheduled",
		fmt.Sprintf("Successfully assigned %s/%s to %s", p.Namespace, p.Name, kube.LocalNodeName), scheduler)
}

// podEventsLocked tells, as the kubelet does, what changed in a pod's
// containers between two readings of it (old nil: the first): a run that
// started, a start that failed, a container whose config cannot be made
// (a missing ConfigMap), a crash loop's back-off.
func (c *Cluster) podEventsLocked(old, p *kube.Pod) {
	var was kube.PodStatus
	if old != nil {
		was = old.Status
	}
	c.containerEventsLocked(p, "spec.containers", was.ContainerStatuses, p.Status.ContainerStatuses)
	c.containerEventsLocked(p, "spec.ephemeralContainers", was.EphemeralContainerStatuses, p.Status.EphemeralContainerStatuses)
}

// containerEventsLocked tells of the changes from was to statuses, one
// list of p's container statuses (at field in its spec).
func (c *Cluster) containerEventsLocked(p *kube.Pod, field string, was, statuses []kube.ContainerStatus) {
	before := map[string]*kube.ContainerStatus{}
	for i := range was {
		before[was[i].Name] = &was[i]
	}
	for i := range statuses {
		cs := &statuses[i]
		prev := before[cs.Name]
		path := field + "{" + cs.Name + "}"
		if cs.ContainerID != "" && (prev == nil || prev.ContainerID != cs.ContainerID) {
			if t := runEnd(cs); t != nil && t.Reason == "StartError" {
				c.emitLocked(p, path, "Warning", "Failed", "Error: "+t.Message, kubelet)
			} else {
				c.emitLocked(p, path, "Normal", "Created", "Created container: "+cs.Name, kubelet)
				c.emitLocked(p, path, "Normal", "Started", "Started container "+cs.Name, kubelet)
			}
		}
		if w := cs.State.Waiting; w != nil && w.Reason == "CreateContainerConfigError" &&
			(prev == nil || prev.State.Waiting == nil || *prev.State.Waiting != *w) {
			c.emitLocked(p, path, "Warning", "Failed", "Error: "+w.Message, kubelet)
		}
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" &&
			(prev == nil || prev.State.Waiting == nil || prev.State.Waiting.Reason != w.Reason || prev.RestartCount != cs.RestartCount) {
			c.emitLocked(p, path, "Warning", "BackOff",
				fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", cs.Name, p.Name, p.Namespace, p.UID), kubelet)
		}
	}
}

// runEnd is how the container's latest run ended, if it did.
func runEnd(cs *kube.ContainerStatus) *kube.StateTerminated {
	switch {
	case cs.State.Running != nil:
		return nil
	case cs.State.Terminated != nil:
		return cs.State.Terminated
	}
	return cs.LastTerminationState.Terminated
}

// killingLocked tells of a deleted pod's running containers being
// stopped, its ephemeral ones too.
func (c *Cluster) killingLocked(p *kube.Pod) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil {
			c.emitLocked(p, containerPath(cs.Name), "Normal", "Killing", "Stopping container "+cs.Name, kubelet)
		}
	}
	for _, cs := range p.Status.EphemeralContainerStatuses {
		if cs.State.Running != nil {
			c.emitLocked(p, "spec.ephemeralContainers{"+cs.Name+"}", "Normal", "Killing", "Stopping container "+cs.Name, kubelet)
		}
	}
}

// scaledLocked tells of a Deployment scaling one of its ReplicaSets.
func (c *Cluster) scaledLocked(d *kube.Deployment, rs string, from, to int32) {
	dir := "up"
	if to < from {
		dir = "down"
	}
	c.emitLocked(d, "", "Normal", "ScalingReplicaSet", fmt.Sprintf("Scaled %s replica set %s from %d to %d", dir, rs, from, to), deploymentController)
}

// ContainerEvent records what a runtime saw of a pod's container that its
// status does not say: a failed readiness probe (reason Unhealthy, a
// Warning), as the kubelet records it. A pod not (or no longer) stored
// gets none.
func (c *Cluster) ContainerEvent(namespace, pod, container, typ, reason, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if o, ok := c.objs[Pods][key{namespace, pod}]; ok {
		c.emitLocked(o, containerPath(container), typ, reason, message, kubelet)
	}
}
