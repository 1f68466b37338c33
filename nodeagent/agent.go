// Package nodeagent keeps a Node and its pods in a Kubernetes API server,
// as a kubelet does, so that the API server routes those pods' exec,
// attach and port-forward to porthole's kubelet endpoint: it registers the
// Node (address, kubelet port, Ready, declared features), renews its Lease,
// publishes each local pod as a mirror pod bound to the Node, runs the pods
// the API server binds to the Node (and stops those deleted there), and
// keeps the pods' status current. On the way out it deletes the pods it
// published and reports the Node not ready.
package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// FeatureWebSockets is the node feature that lets an API server (1.36 and
// later, gate ExtendWebSocketsToKubelet) pass WebSocket exec, attach and
// the port-forward tunnel straight to the kubelet instead of translating
// them to SPDY. It is declared in the Node's status.declaredFeatures.
const FeatureWebSockets = "ExtendWebSocketsToKubelet"

// MirrorAnnotation marks a pod the node itself publishes (a kubelet's
// mirror pod of a static pod): the API server's admission lets a node
// create only those, and exempts them from service-account handling.
const MirrorAnnotation = "kubernetes.io/config.mirror"

// leaseNamespace holds the nodes' heartbeat Leases.
const leaseNamespace = "kube-node-lease"

// Pods is the local runtime as the agent sees it.
type Pods interface {
	// Pods returns every pod with its live status.
	Pods() ([]*kube.Pod, error)
	// Changes is closed at the next status change.
	Changes() <-chan struct{}
	// AddPod runs a pod the API server bound to the node.
	AddPod(*kube.Pod) error
	// RemovePod stops and forgets a pod.
	RemovePod(namespace, name string) error
}

// Options configure an Agent.
type Options struct {
	// NodeName is the Node's name (required).
	NodeName string
	// Address is the IP the API server reaches the kubelet endpoint at,
	// published as the Node's InternalIP (required).
	Address string
	// Port is the kubelet endpoint's port (daemonEndpoints.kubeletEndpoint).
	Port int
	// DeclareWebSockets declares FeatureWebSockets.
	DeclareWebSockets bool
	// Heartbeat is how often the Lease is renewed (default 10s, the
	// kubelet's); the Node's status is refreshed every sixth beat.
	Heartbeat time.Duration
	// SyncEvery is how often the pods bound to the node are listed
	// (default 1s).
	SyncEvery time.Duration
	// Version is reported as the node's kubelet version.
	Version string
	Logger  *slog.Logger
}

// Agent registers one Node; see the package comment.
type Agent struct {
	c    *client.Client
	pods Pods
	opts Options
	log  *slog.Logger

	published map[string]kube.PodStatus // "ns/name" -> status last sent
	mirrors   map[string]bool           // the pods of -f, published by us
	bound     map[string]bool           // pods the API server bound here, run locally
	refused   map[string]bool           // bound pods we could not run (told once)
	// ephemeral are the ephemeral containers of the bound pods handed to
	// the runtime (or refused by it, told once), by pod, then name.
	ephemeral map[string]map[string]bool
}

// EphemeralRunner is a runtime that can add ephemeral containers to a
// running pod (localrt.Runtime): with it, kubectl debug works on the pods
// bound to the node.
type EphemeralRunner interface {
	AddEphemeralContainer(namespace, name string, spec kube.EphemeralContainer) error
}

// New returns an Agent; Run does the work.
func New(c *client.Client, pods Pods, opts Options) (*Agent, error) {
	if opts.NodeName == "" || opts.Address == "" || opts.Port <= 0 {
		return nil, errors.New("nodeagent: NodeName, Address and Port are required")
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.SyncEvery <= 0 {
		opts.SyncEvery = time.Second
	}
	if opts.Version == "" {
		opts.Version = "v0.0.0-porthole"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{c: c, pods: pods, opts: opts, log: log, published: map[string]kube.PodStatus{},
		mirrors: map[string]bool{}, bound: map[string]bool{}, refused: map[string]bool{}, ephemeral: map[string]map[string]bool{}}, nil
}

// NodeName is the registered Node's name.
func (a *Agent) NodeName() string { return a.opts.NodeName }

// Register creates or updates the Node, its Lease and the mirror pods, and
// publishes the pods' status once. Run calls it; it is separate so a
// command can fail fast before it says it is serving.
func (a *Agent) Register(ctx context.Context) error {
	if err := a.ensureNode(ctx); err != nil {
		return err
	}
	if err := a.renewLease(ctx); err != nil {
		return err
	}
	pods, err := a.pods.Pods()
	if err != nil {
		return err
	}
	for _, p := range pods {
		if err := a.publishPod(ctx, p); err != nil {
			return err
		}
		a.mirrors[p.Namespace+"/"+p.Name] = true
	}
	return a.syncStatus(ctx)
}

// Run keeps the registration until ctx ends, then withdraws it (within
// 10 s). Errors while running are logged and retried at the next beat.
func (a *Agent) Run(ctx context.Context) error {
	defer a.withdraw()
	beat := time.NewTicker(a.opts.Heartbeat)
	defer beat.Stop()
	follow := time.NewTicker(a.opts.SyncEvery)
	defer follow.Stop()
	for n := 1; ; {
		changes := a.pods.Changes()
		if err := a.syncStatus(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("publish pod status", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
		case <-follow.C:
			if err := a.followBound(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("follow the pods bound to the node", "err", err)
			}
		case <-beat.C:
			n++
			if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("renew node lease", "err", err)
			}
			if n%6 == 0 {
				if err := a.patchNodeStatus(ctx, true); err != nil && ctx.Err() == nil {
					a.log.Warn("node status", "err", err)
				}
			}
		}
	}
}

func (a *Agent) nodePath() string { return "/api/v1/nodes/" + url.PathEscape(a.opts.NodeName) }

func podPath(ns, name string) string {
	return "/api/v1/namespaces/" + url.PathEscape(ns) + "/pods/" + url.PathEscape(name)
}

// ensureNode creates the Node when it does not exist, then sets its status.
func (a *Agent) ensureNode(ctx context.Context) error {
	node := map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{
			"name": a.opts.NodeName,
			"labels": map[string]string{
				"kubernetes.io/hostname":  a.opts.NodeName,
				"kubernetes.io/os":        runtime.GOOS,
				"kubernetes.io/arch":      runtime.GOARCH,
				"beta.kubernetes.io/os":   runtime.GOOS,
				"beta.kubernetes.io/arch": runtime.GOARCH,
				"porthole.dev/node":       "true",
			},
		},
	}
	err := a.c.Do(ctx, http.MethodPost, "/api/v1/nodes", "", node, nil)
	if err != nil && !isStatus(err, http.StatusConflict) {
		return fmt.Errorf("register node %s: %w", a.opts.NodeName, err)
	}
	return a.patchNodeStatus(ctx, true)
}

// patchNodeStatus sets the addresses, the kubelet port, the Ready
// condition and the declared features.
func (a *Agent) patchNodeStatus(ctx context.Context, ready bool) error {
	now := time.Now().UTC().Format(time.RFC3339)
	cond := map[string]string{
		"type": "Ready", "status": "True", "reason": "KubeletReady",
		"message": "porthole node is serving", "lastHeartbeatTime": now, "lastTransitionTime": now,
	}
	if !ready {
		cond["status"], cond["reason"], cond["message"] = "False", "KubeletStopped", "porthole node stopped"
	}
	features := []string{}
	if a.opts.DeclareWebSockets {
		features = append(features, FeatureWebSockets)
	}
	st := map[string]any{
		"status": map[string]any{
			"addresses":        []map[string]string{{"type": "InternalIP", "address": a.opts.Address}},
			"daemonEndpoints":  map[string]any{"kubeletEndpoint": map[string]int{"Port": a.opts.Port}},
			"conditions":       []map[string]string{cond},
			"declaredFeatures": features,
			"nodeInfo": map[string]string{
				"kubeletVersion": a.opts.Version, "operatingSystem": runtime.GOOS, "architecture": runtime.GOARCH,
				"containerRuntimeVersion": "porthole://local",
			},
		},
	}
	if err := a.c.Do(ctx, http.MethodPatch, a.nodePath()+"/status", client.MergePatch, st, nil); err != nil {
		return fmt.Errorf("node %s status: %w", a.opts.NodeName, err)
	}
	return nil
}

// renewLease creates or renews the Node's Lease, the kubelet's heartbeat.
func (a *Agent) renewLease(ctx context.Context) error {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	path := "/apis/coordination.k8s.io/v1/namespaces/" + leaseNamespace + "/leases/" + url.PathEscape(a.opts.NodeName)
	patch := map[string]any{"spec": map[string]any{"renewTime": now}}
	err := a.c.Do(ctx, http.MethodPatch, path, client.MergePatch, patch, nil)
	if !isStatus(err, http.StatusNotFound) {
		if err != nil {
			return fmt.Errorf("renew lease: %w", err)
		}
		return nil
	}
	lease := map[string]any{
		"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]any{
			"name": a.opts.NodeName, "namespace": leaseNamespace,
			"ownerReferences": []map[string]any{a.nodeOwner(ctx)},
		},
		"spec": map[string]any{
			"holderIdentity": a.opts.NodeName, "renewTime": now,
			"leaseDurationSeconds": int(4 * a.opts.Heartbeat / time.Second),
		},
	}
	if err := a.c.Do(ctx, http.MethodPost, "/apis/coordination.k8s.io/v1/namespaces/"+leaseNamespace+"/leases", "", lease, nil); err != nil {
		return fmt.Errorf("create lease: %w", err)
	}
	return nil
}

// nodeOwner is an owner reference to the Node (mirror pods and the Lease
// belong to it, as the node admission wants).
func (a *Agent) nodeOwner(ctx context.Context) map[string]any {
	var n struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	if err := a.c.Do(ctx, http.MethodGet, a.nodePath(), "", nil, &n); err != nil {
		a.log.Warn("read node", "err", err)
	}
	return map[string]any{"apiVersion": "v1", "kind": "Node", "name": a.opts.NodeName, "uid": n.Metadata.UID, "controller": true}
}

// publishPod creates p's mirror pod, replacing one left by an earlier run.
func (a *Agent) publishPod(ctx context.Context, p *kube.Pod) error {
	body, err := a.mirror(ctx, p)
	if err != nil {
		return err
	}
	create := func() error {
		return a.c.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+url.PathEscape(p.Namespace)+"/pods", "", body, nil)
	}
	err = create()
	if isStatus(err, http.StatusConflict) {
		if err = a.deletePod(ctx, p.Namespace, p.Name); err == nil {
			err = create()
		}
	}
	if err != nil {
		return fmt.Errorf("publish pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// mirror is the API object for p: its spec bound to this node, owned by
// the Node, marked as a mirror pod, with nothing the server assigns.
func (a *Agent) mirror(ctx context.Context, p *kube.Pod) (map[string]any, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	meta, _ := m["metadata"].(map[string]any)
	for _, k := range []string{"uid", "resourceVersion", "creationTimestamp"} {
		delete(meta, k)
	}
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
	}
	ann[MirrorAnnotation] = "porthole"
	meta["annotations"] = ann
	meta["ownerReferences"] = []map[string]any{a.nodeOwner(ctx)}
	spec, _ := m["spec"].(map[string]any)
	spec["nodeName"] = a.opts.NodeName
	if cs, ok := spec["containers"].([]any); ok {
		for _, c := range cs {
			if c, ok := c.(map[string]any); ok && c["image"] == nil {
				c["image"] = "porthole/local" // the API requires one; the local runtime runs the command
			}
		}
	}
	return m, nil
}

// syncStatus sends each pod's status when it changed since it was last
// sent.
func (a *Agent) syncStatus(ctx context.Context) error {
	pods, err := a.pods.Pods()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods {
		key := p.Namespace + "/" + p.Name
		if last, ok := a.published[key]; ok && reflect.DeepEqual(last, p.Status) {
			continue
		}
		st := p.Status
		st.HostIP = a.opts.Address
		patch := map[string]any{"status": st}
		if err := a.c.Do(ctx, http.MethodPatch, podPath(p.Namespace, p.Name)+"/status", client.MergePatch, patch, nil); err != nil {
			errs = append(errs, fmt.Errorf("pod %s status: %w", key, err))
			continue
		}
		a.published[key] = p.Status
	}
	return errors.Join(errs...)
}

func (a *Agent) deletePod(ctx context.Context, ns, name string) error {
	grace := map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
	err := a.c.Do(ctx, http.MethodDelete, podPath(ns, name), "", grace, nil)
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("delete pod %s/%s: %w", ns, name, err)
	}
	return nil
}

// withdraw deletes the pods it published and reports the Node not ready.
// Pods the API server bound here stay there, as a stopped kubelet's do.
func (a *Agent) withdraw() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for key := range a.mirrors {
		ns, name, _ := strings.Cut(key, "/")
		if err := a.deletePod(ctx, ns, name); err != nil {
			a.log.Warn("withdraw pod", "err", err)
		}
	}
	if err := a.patchNodeStatus(ctx, false); err != nil {
		a.log.Warn("withdraw node", "err", err)
	}
}

func isStatus(err error, code int) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.StatusCode == code
}

// boundPod is what followBound reads of a pod in the API server.
type boundPod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		Annotations       map[string]string `json:"annotations"`
		DeletionTimestamp string            `json:"deletionTimestamp"`
	} `json:"metadata"`
}

// followBound runs the pods the API server bound to this node (not our
// mirror pods) on the local runtime, and stops those deleted there: a
// deletion in progress is finished (grace 0) once the pod is stopped, as
// the kubelet confirms it.
func (a *Agent) followBound(ctx context.Context) error {
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	q := url.Values{"fieldSelector": {"spec.nodeName=" + a.opts.NodeName}}
	if err := a.c.Do(ctx, http.MethodGet, "/api/v1/pods?"+q.Encode(), "", nil, &list); err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	seen := map[string]bool{}
	var errs []error
	for _, raw := range list.Items {
		var meta boundPod
		if err := json.Unmarshal(raw, &meta); err != nil {
			errs = append(errs, err)
			continue
		}
		m := meta.Metadata
		key := m.Namespace + "/" + m.Name
		if _, mirror := m.Annotations[MirrorAnnotation]; mirror || a.mirrors[key] {
			continue
		}
		seen[key] = true
		switch {
		case m.DeletionTimestamp != "":
			if a.bound[key] {
				if err := a.pods.RemovePod(m.Namespace, m.Name); err != nil {
					errs = append(errs, err)
				}
				delete(a.bound, key)
				delete(a.published, key)
				delete(a.ephemeral, key)
			}
			if err := a.deletePod(ctx, m.Namespace, m.Name); err != nil {
				errs = append(errs, err)
			}
		case a.bound[key]:
			errs = append(errs, a.followEphemeral(key, raw))
		case a.refused[key]:
		default:
			errs = append(errs, a.runBound(ctx, key, raw))
		}
	}
	for key := range a.bound {
		if !seen[key] { // deleted at once (grace 0) or rebound
			ns, name, _ := strings.Cut(key, "/")
			if err := a.pods.RemovePod(ns, name); err != nil {
				errs = append(errs, err)
			}
			delete(a.bound, key)
			delete(a.published, key)
			delete(a.ephemeral, key)
		}
	}
	return errors.Join(errs...)
}

// followEphemeral hands the runtime the ephemeral containers the API
// server added to a bound pod since it was last looked at (kubectl
// debug), as the kubelet starts them; each is tried once. A runtime that
// cannot run them leaves them waiting, as a kubelet without the feature.
func (a *Agent) followEphemeral(key string, raw json.RawMessage) error {
	var p struct {
		Metadata struct{ Namespace, Name string } `json:"metadata"`
		Spec     struct {
			EphemeralContainers []kube.EphemeralContainer `json:"ephemeralContainers"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || len(p.Spec.EphemeralContainers) == 0 {
		return err
	}
	er, ok := a.pods.(EphemeralRunner)
	if !ok {
		return nil
	}
	done := a.ephemeral[key]
	if done == nil {
		done = map[string]bool{}
		a.ephemeral[key] = done
	}
	var errs []error
	for _, e := range p.Spec.EphemeralContainers {
		if done[e.Name] {
			continue
		}
		done[e.Name] = true
		switch err := er.AddEphemeralContainer(p.Metadata.Namespace, p.Metadata.Name, e); {
		case errors.Is(err, node.ErrExists): // the pod came with it (runBound)
		case err != nil:
			errs = append(errs, fmt.Errorf("pod %s: ephemeral container %s: %w", key, e.Name, err))
		default:
			a.log.Info("running an ephemeral container", "pod", key, "container", e.Name)
		}
	}
	return errors.Join(errs...)
}

// runBound starts a bound pod; one the local runtime cannot run is marked
// Failed with the reason, once.
func (a *Agent) runBound(ctx context.Context, key string, raw json.RawMessage) error {
	var p kube.Pod
	err := json.Unmarshal(raw, &p)
	if err == nil {
		// The ephemeral containers' statuses say which ran before (a
		// node restart): the runtime runs those no more.
		p.Status = kube.PodStatus{EphemeralContainerStatuses: p.Status.EphemeralContainerStatuses}
		err = a.pods.AddPod(&p)
	}
	if err == nil {
		a.bound[key] = true
		a.log.Info("running a pod bound to the node", "pod", key)
		return nil
	}
	a.refused[key] = true
	ns, name, _ := strings.Cut(key, "/")
	st := map[string]any{"status": map[string]any{
		"phase": "Failed", "reason": "UnsupportedPod", "hostIP": a.opts.Address,
		"message": "porthole's local runtime cannot run this pod: " + err.Error(),
	}}
	if perr := a.c.Do(ctx, http.MethodPatch, podPath(ns, name)+"/status", client.MergePatch, st, nil); perr != nil {
		return fmt.Errorf("pod %s: %w", key, perr)
	}
	return nil
}
