package localrt

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// Restart policies, as spelled in a pod spec.
const (
	restartAlways    = "Always"
	restartOnFailure = "OnFailure"
	restartNever     = "Never"
)

// nodeName is the node every pod reports it runs on.
const nodeName = kube.LocalNodeName

// podIP is every pod's IP, and the node's: pods share the host's network.
const podIP = "127.0.0.1"

// pod is one pod: its defaulted spec (immutable after New) and containers.
type pod struct {
	rt         *Runtime
	spec       *kube.Pod // without its ephemeral containers, which change
	containers []*container
	// ephemeral are the ephemeral containers, in the order they came
	// (AddEphemeralContainer); appended to under rt.mu, never removed.
	ephemeral []*container
	dir       string    // written by Start before any container starts
	startTime time.Time // guarded by rt.mu
	// conds are the conditions last reported, for their transition times;
	// guarded by rt.mu.
	conds []kube.PodCondition
	// ctx is the supervisors' context, for the ephemeral containers that
	// come later; set with stop, under rt.mu.
	ctx context.Context

	// stop ends this pod's supervisors (RemovePod); running joins them.
	stop    context.CancelFunc
	running sync.WaitGroup
	// grace, when positive, replaces Options.KillGrace for this pod's
	// main processes (RemovePodGrace).
	grace atomic.Int64
	// hurry closes when a forced removal (negative grace) comes while the
	// pod is being stopped: its processes get SIGKILL at once.
	hurry     chan struct{}
	hurryOnce sync.Once
}

// killGrace is how long the pod's main processes get between SIGTERM and
// SIGKILL.
func (p *pod) killGrace() time.Duration {
	if g := time.Duration(p.grace.Load()); g > 0 {
		return g
	}
	return p.rt.opts.KillGrace
}

var (
	// DNS-1123 label and subdomain, as Kubernetes validates names. They also
	// keep a pod's directory name free of path separators.
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
)

// newPod validates in and returns a defaulted deep copy of it.
func newPod(r *Runtime, in *kube.Pod, now time.Time) (*pod, error) {
	if in == nil {
		return nil, errors.New("nil pod")
	}
	spec, err := clonePod(in)
	if err != nil {
		return nil, err
	}
	if spec.Namespace == "" {
		spec.Namespace = "default"
	}
	if !dnsSubdomain.MatchString(spec.Name) {
		return nil, fmt.Errorf("invalid pod name %q", spec.Name)
	}
	if !dnsLabel.MatchString(spec.Namespace) {
		return nil, fmt.Errorf("pod %s: invalid namespace %q", spec.Name, spec.Namespace)
	}
	if err := defaultSpec(spec, now); err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	p := &pod{rt: r, spec: spec, hurry: make(chan struct{})}
	for i := range spec.Spec.Containers {
		p.containers = append(p.containers, newContainer(p, &spec.Spec.Containers[i]))
	}
	// A pod bound again after a node restart may have some already; one
	// that ran before (its status says so) stays ended, as the kubelet
	// never runs an ephemeral container twice.
	for _, e := range spec.Spec.EphemeralContainers {
		c := newEphemeral(p, e)
		c.last = ranBefore(spec.Status.EphemeralContainerStatuses, e.Name)
		p.ephemeral = append(p.ephemeral, c)
	}
	spec.Spec.EphemeralContainers = nil
	spec.Status.EphemeralContainerStatuses = nil
	return p, nil
}

// ranBefore is how the ephemeral container name of statuses (a pod's
// status as the API server last had it) ended, or nil if it never ran.
// One that was running when its node went away ended with it; the
// kubelet reports such a container as ContainerStatusUnknown.
func ranBefore(statuses []kube.ContainerStatus, name string) *termination {
	i := slices.IndexFunc(statuses, func(s kube.ContainerStatus) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	s := statuses[i]
	id := strings.TrimPrefix(s.ContainerID, "porthole://")
	switch {
	case s.State.Terminated != nil:
		t := s.State.Terminated
		return &termination{id: id, exitCode: t.ExitCode, signal: t.Signal, reason: t.Reason, message: t.Message,
			startedAt: parseTimestamp(t.StartedAt), finishedAt: parseTimestamp(t.FinishedAt)}
	case s.State.Running != nil:
		return &termination{id: id, exitCode: 137, reason: "ContainerStatusUnknown",
			message:   "The container could not be located when the pod was terminated",
			startedAt: parseTimestamp(s.State.Running.StartedAt)}
	}
	return nil // still waiting: it never started
}

// parseTimestamp reads what timestamp wrote; the zero time otherwise.
func parseTimestamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// defaultSpec fills what the API server would and checks the containers.
func defaultSpec(p *kube.Pod, now time.Time) error {
	if p.Kind == "" {
		p.Kind, p.APIVersion = "Pod", "v1"
	}
	if p.UID == "" {
		p.UID = newUID()
	}
	if p.CreationTimestamp == "" {
		p.CreationTimestamp = timestamp(now)
	}
	if p.ResourceVersion == "" {
		p.ResourceVersion = "1"
	}
	p.Spec.Default()
	switch p.Spec.RestartPolicy {
	case restartAlways, restartOnFailure, restartNever:
	default:
		return fmt.Errorf("invalid restartPolicy %q", p.Spec.RestartPolicy)
	}
	p.Spec.NodeName = nodeName
	if len(p.Spec.InitContainers) > 0 {
		return errors.New("initContainers are not supported")
	}
	if len(p.Spec.Containers) == 0 {
		return errors.New("no containers")
	}
	seen := make(map[string]bool, len(p.Spec.Containers))
	all := slices.Clone(p.Spec.Containers)
	for _, e := range p.Spec.EphemeralContainers {
		all = append(all, e.Container)
	}
	for _, c := range all {
		if !dnsLabel.MatchString(c.Name) {
			return fmt.Errorf("invalid container name %q", c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("duplicate container name %q", c.Name)
		}
		seen[c.Name] = true
		if c.StdinOnce && !c.Stdin {
			return fmt.Errorf("container %s: stdinOnce requires stdin", c.Name)
		}
	}
	return nil
}

// clonePod deep-copies a pod through its JSON form, which the kube types
// define completely.
func clonePod(in *kube.Pod) (*kube.Pod, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("copy pod: %w", err)
	}
	out := new(kube.Pod)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("copy pod: %w", err)
	}
	return out, nil
}

// newUID returns a random RFC 4122 version 4 UUID, the form Kubernetes uses.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newID returns a random container ID (64 hex digits, as containerd's).
func newID() string {
	var b [32]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x", b[:])
}

// timestamp formats t as Kubernetes serialises metav1.Time.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Pod returns a deep copy of the pod with its live status, or an error
// wrapping node.ErrNotFound.
func (r *Runtime) Pod(ctx context.Context, namespace, name string) (*kube.Pod, error) {
	p, err := r.lookupPod(namespace, name)
	if err != nil {
		return nil, err
	}
	return p.snapshot()
}

// snapshot is a deep copy of the pod with its ephemeral containers and
// its live status.
func (p *pod) snapshot() (*kube.Pod, error) {
	eph := p.ephemeralContainers() // once: the spec and status agree
	spec := *p.spec
	spec.Spec.EphemeralContainers = nil
	for _, c := range eph {
		spec.Spec.EphemeralContainers = append(spec.Spec.EphemeralContainers, *c.ephemeral)
	}
	out, err := clonePod(&spec) // deep: nothing of the runtime's is shared
	if err != nil {
		return nil, err
	}
	out.Status = p.status(eph)
	return out, nil
}

// Pods returns deep copies of every pod with its live status, in manifest
// order (pods added later after them).
func (r *Runtime) Pods() ([]*kube.Pod, error) {
	r.mu.Lock()
	list := slices.Clone(r.list)
	r.mu.Unlock()
	out := make([]*kube.Pod, 0, len(list))
	for _, p := range list {
		c, err := p.snapshot()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ErrExists is returned by AddPod for a pod the Runtime already runs.
var ErrExists = node.ErrExists

// AddPod validates in, then runs it like the pods given to New (a started
// Runtime only): what a node does for a pod the API server binds to it.
func (r *Runtime) AddPod(in *kube.Pod) error {
	p, err := newPod(r, in, time.Now())
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state {
	case stateNew:
		return errors.New("add pod: the runtime is not started")
	case stateClosed:
		return fmt.Errorf("add pod: %w", ErrClosed)
	}
	k := podKey{p.spec.Namespace, p.spec.Name}
	if _, dup := r.pods[k]; dup {
		return fmt.Errorf("pod %s/%s: %w", k.namespace, k.name, ErrExists)
	}
	p.dir = filepath.Join(r.stateDir, k.namespace, k.name)
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("create pod dir: %w", err)
	}
	r.pods[k] = p
	r.list = append(r.list, p)
	r.startPodLocked(p, time.Now())
	r.notifyLocked()
	return nil
}

// RemovePod stops the pod's containers (SIGTERM, SIGKILL after KillGrace),
// waits for them and forgets the pod; its directory goes too. Calls into
// the pod end with its processes.
func (r *Runtime) RemovePod(namespace, name string) error {
	return r.RemovePodGrace(namespace, name, 0)
}

// RemovePodGrace is RemovePod with grace instead of KillGrace between
// SIGTERM and SIGKILL (a pod's deletion grace period); grace <= 0 means
// KillGrace, except that a negative grace kills at once. A negative
// grace for a pod still being stopped by an earlier call (a force
// deletion after a graceful one) kills its processes at once, as the
// kubelet shortens a termination; the earlier call returns then.
func (r *Runtime) RemovePodGrace(namespace, name string, grace time.Duration) error {
	r.mu.Lock()
	k := podKey{namespace, name}
	p, ok := r.pods[k]
	if ok {
		delete(r.pods, k)
		r.list = slices.DeleteFunc(r.list, func(q *pod) bool { return q == p })
	}
	started := r.state == stateStarted
	if !ok {
		if q := r.stopping[k]; q != nil && grace < 0 {
			q.hurryOnce.Do(func() { close(q.hurry) })
			r.mu.Unlock()
			return nil
		}
	}
	if ok && started {
		r.stopping[k] = p
	}
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("pod %s/%s: %w", namespace, name, node.ErrNotFound)
	}
	if !started {
		return nil
	}
	if grace < 0 {
		grace = time.Nanosecond
	}
	p.grace.Store(int64(grace))
	p.stop()
	p.running.Wait()
	for _, c := range p.allContainers() {
		c.killGroups()
	}
	r.mu.Lock()
	if r.stopping[k] == p {
		delete(r.stopping, k)
	}
	r.mu.Unlock()
	r.notify()
	if err := os.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("remove pod dir: %w", err)
	}
	return nil
}

// startPodLocked starts a supervisor per container of p, under r.mu.
func (r *Runtime) startPodLocked(p *pod, now time.Time) {
	ctx, cancel := context.WithCancel(r.ctx)
	p.ctx, p.stop = ctx, cancel
	p.startTime = now
	for _, c := range append(slices.Clone(p.containers), p.ephemeral...) {
		if c.ephemeral != nil && c.last != nil {
			continue // ran before the pod came here (newPod)
		}
		r.wg.Add(1)
		p.running.Add(1)
		go func() {
			defer p.running.Done()
			c.supervise(ctx)
		}()
		if c.spec.ReadinessProbe != nil {
			r.wg.Add(1)
			p.running.Add(1)
			go func() {
				defer p.running.Done()
				c.probeLoop(ctx)
			}()
		}
	}
}
