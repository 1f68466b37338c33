package localrt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

var _ node.Runtime = (*Runtime)(nil)

// Options configure a Runtime. The zero value is safe.
type Options struct {
	Logger *slog.Logger
	// KillGrace is how long a process has between SIGTERM (or SIGHUP) and
	// SIGKILL (default 5s).
	KillGrace time.Duration
	// StateDir holds one working directory per pod (<StateDir>/<ns>/<name>).
	// Default: a temporary directory that Close removes. A directory given
	// here is kept.
	StateDir string
	// AttachStallTimeout is how long an attacher may take no output while
	// its queue is full before it is cut, so that it cannot hold up the
	// container and the other attachers (default
	// defaultAttachStallTimeout).
	AttachStallTimeout time.Duration
	// SpawnHelperAt is the descriptor number from which a process starts
	// through the spawn helper (see doc.go): when its stdio are numbered
	// this high, the server holds about as many descriptors and fork
	// copies them all. 0: the environment's PORTHOLE_SPAWN_HELPER_AT, else
	// 4096; 1: always; negative: never.
	SpawnHelperAt int
	// ProbeFailed, when set, is told of every failed readiness probe, as
	// the kubelet records an Unhealthy event for each; message says why.
	// It is called on the probe's goroutine and must not block.
	ProbeFailed func(namespace, pod, container, message string)
	// ConfigMaps reads the data of a ConfigMap, for the env of the
	// containers that refer to one (valueFrom.configMapKeyRef,
	// envFrom.configMapRef), each time one starts; the error wraps
	// node.ErrNotFound when there is no such ConfigMap, and says why
	// it cannot be read otherwise. Unset, every ConfigMap is missing.
	// It is called on the container's goroutine.
	ConfigMaps func(ctx context.Context, namespace, name string) (data map[string]string, err error)
	// Secrets reads the data of a Secret, as ConfigMaps a ConfigMap's,
	// for valueFrom.secretKeyRef and envFrom.secretRef. Unset, every
	// Secret is missing.
	Secrets func(ctx context.Context, namespace, name string) (data map[string][]byte, err error)
}

// SpawnHelperAtEnv names the environment variable that sets
// Options.SpawnHelperAt when the options leave it 0.
const SpawnHelperAtEnv = "PORTHOLE_SPAWN_HELPER_AT"

// ErrClosed is returned by calls on a Runtime after Close.
var ErrClosed = errors.New("runtime closed")

// Runtime runs pods as local processes. It is safe for concurrent use.
// New starts nothing; Start starts the containers; Close stops every
// process and joins every goroutine the Runtime started.
type Runtime struct {
	opts Options
	log  *slog.Logger
	pods map[podKey]*pod // under mu once started (AddPod, RemovePod)
	list []*pod          // manifest order, then added pods; under mu too
	// stopping are the removed pods whose processes are still being
	// stopped, under mu: a forced removal hurries them.
	stopping map[podKey]*pod

	// Tunables: defaults from New, changed only by tests before Start.
	backoff    backoffPolicy
	drainGrace time.Duration
	pipeSize   int  // F_SETPIPE_SZ for exec output pipes; 0 keeps the kernel default
	noExecPoll bool // supervise every exec the older way (goroutines), as where there is no epoll
	helperAt   int  // spawn through the helper from this stdio descriptor number up (<0: never)
	dialTime   time.Duration
	onAttach   func() // test hook: an Attach session is in place

	ctx    context.Context // lifetime: cancelled by Close
	cancel context.CancelFunc
	spawn  *spawner // starts every process; from Start to the end of Close

	mu       sync.Mutex
	state    int // stateNew, stateStarted, stateClosed
	stateDir string
	tempDir  bool
	changed  chan struct{} // closed and replaced on every status change
	calls    sync.WaitGroup
	wg       sync.WaitGroup // supervisors and stdin readers handed to the runtime
}

const (
	stateNew = iota
	stateStarted
	stateClosed
)

type podKey struct{ namespace, name string }

// New validates pods and returns a Runtime for them. It fills the defaults
// Kubernetes would (namespace "default", restartPolicy Always, a UID,
// creationTimestamp, nodeName "porthole") on its own deep copies; the
// caller's pods are not modified. Pod and container names must be unique;
// initContainers are not supported.
func New(pods []*kube.Pod, opts *Options) (*Runtime, error) {
	r := &Runtime{
		pods:       make(map[podKey]*pod, len(pods)),
		stopping:   make(map[podKey]*pod),
		backoff:    defaultBackoff,
		drainGrace: 250 * time.Millisecond,
		pipeSize:   1 << 20,
		helperAt:   helperStdioFD,
		dialTime:   10 * time.Second,
		changed:    make(chan struct{}),
	}
	if opts != nil {
		r.opts = *opts
	}
	switch v := os.Getenv(SpawnHelperAtEnv); {
	case r.opts.SpawnHelperAt != 0:
		r.helperAt = r.opts.SpawnHelperAt
	case v != "":
		at, err := strconv.Atoi(v)
		if err != nil || at == 0 {
			return nil, fmt.Errorf("%s=%q: want a descriptor number (1: always) or -1 (never)", SpawnHelperAtEnv, v)
		}
		r.helperAt = at
	}
	if r.opts.AttachStallTimeout <= 0 {
		r.opts.AttachStallTimeout = defaultAttachStallTimeout
	}
	if r.opts.KillGrace <= 0 {
		r.opts.KillGrace = 5 * time.Second
	}
	r.log = r.opts.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	for i, in := range pods {
		p, err := newPod(r, in, now)
		if err != nil {
			return nil, fmt.Errorf("pod %d: %w", i, err)
		}
		k := podKey{p.spec.Namespace, p.spec.Name}
		if _, dup := r.pods[k]; dup {
			return nil, fmt.Errorf("pod %s/%s: duplicate", k.namespace, k.name)
		}
		r.pods[k] = p
		r.list = append(r.list, p)
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Start creates the pods' directories and starts every container's main
// process. ctx bounds only the start itself: the processes run until Close.
// A container whose command cannot be started is reported terminated
// (reason StartError) and retried per its restart policy, as a kubelet
// would; Start fails only when the state directory cannot be made.
func (r *Runtime) Start(ctx context.Context) error {
	if err := r.launch(ctx); err != nil {
		return err
	}
	return r.awaitFirstRuns(ctx)
}

// launch starts a supervisor per container.
func (r *Runtime) launch(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state {
	case stateStarted:
		return errors.New("start: already started")
	case stateClosed:
		return fmt.Errorf("start: %w", ErrClosed)
	}
	dir, temp := r.opts.StateDir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "porthole-localrt-")
		if err != nil {
			return fmt.Errorf("create state dir: %w", err)
		}
		dir, temp = d, true
	}
	r.stateDir, r.tempDir = dir, temp
	for _, p := range r.list {
		p.dir = filepath.Join(dir, p.spec.Namespace, p.spec.Name)
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			return fmt.Errorf("create pod dir: %w", err)
		}
	}
	r.spawn = newSpawner(r.helperAt)
	r.state = stateStarted
	now := time.Now()
	for _, p := range r.list {
		r.startPodLocked(p, now)
	}
	r.notifyLocked()
	return nil
}

// awaitFirstRuns waits until every container's main process has started
// once (or failed to start, or waits on its config), so that a caller who serves exec right after
// Start never meets "container not running" for a container that simply had
// not started yet (the kubelet's readiness has the same meaning).
func (r *Runtime) awaitFirstRuns(ctx context.Context) error {
	for {
		changed := r.changes()
		if r.allStartedOnce() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("start: waiting for containers: %w", ctx.Err())
		}
	}
}

func (r *Runtime) allStartedOnce() bool {
	r.mu.Lock()
	list := slices.Clone(r.list)
	r.mu.Unlock()
	for _, p := range list {
		for _, c := range p.allContainers() {
			c.mu.Lock()
			started := c.cur != nil || c.last != nil || c.waiting == reasonConfigError
			c.mu.Unlock()
			if !started {
				return false
			}
		}
	}
	return true
}

// Close stops every process (SIGTERM to its group, SIGKILL after
// KillGrace), ends in-flight Exec, Attach and PortForward calls and waits
// for them and for every goroutine to end, then removes the temporary
// state directory. A call blocked writing to its caller's streams returns
// only when that write does, so callers must fail such writes when they
// shut down (the node closes its connections). Calls after Close fail with
// ErrClosed. Close is idempotent.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.state == stateClosed {
		r.mu.Unlock()
		return nil
	}
	r.state = stateClosed
	r.mu.Unlock()
	r.cancel()
	r.calls.Wait()
	r.wg.Wait()
	r.mu.Lock()
	list := slices.Clone(r.list)
	r.mu.Unlock()
	for _, p := range list {
		for _, c := range p.allContainers() {
			c.killGroups()
		}
	}
	r.mu.Lock()
	if r.spawn != nil {
		r.spawn.stop()
	}
	r.notifyLocked()
	dir, temp := r.stateDir, r.tempDir
	r.mu.Unlock()
	if temp {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove state dir: %w", err)
		}
	}
	return nil
}

// enter registers an in-flight call; the returned func ends it. Calls are
// refused once Close has begun, so Close's wait on calls cannot race an Add.
func (r *Runtime) enter() (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == stateClosed {
		return nil, ErrClosed
	}
	r.calls.Add(1)
	return r.calls.Done, nil
}

// goTracked runs fn on a goroutine the Runtime joins in Close. It is for
// goroutines a call cannot join before returning: a Read on a caller's
// stdin that cannot be interrupted (node.Streams promises the node closes
// Stdin right after the call returns, which ends it).
func (r *Runtime) goTracked(fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// notify wakes everyone waiting for a status change.
func (r *Runtime) notify() {
	r.mu.Lock()
	r.notifyLocked()
	r.mu.Unlock()
}

func (r *Runtime) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Changes returns a channel closed at the next change of any pod's status
// (what a node agent publishes).
func (r *Runtime) Changes() <-chan struct{} { return r.changes() }

// changes returns a channel closed at the next status change.
func (r *Runtime) changes() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// lookupPod finds a pod.
func (r *Runtime) lookupPod(namespace, name string) (*pod, error) {
	r.mu.Lock()
	p, ok := r.pods[podKey{namespace, name}]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("pod %s/%s: %w", namespace, name, node.ErrNotFound)
	}
	return p, nil
}

// lookupContainer finds a container.
func (r *Runtime) lookupContainer(c node.Container) (*container, error) {
	p, err := r.lookupPod(c.Namespace, c.PodRef.Name)
	if err != nil {
		return nil, err
	}
	if c.UID != "" && c.UID != p.spec.UID {
		return nil, fmt.Errorf("pod %s/%s with uid %s: %w", c.Namespace, c.PodRef.Name, c.UID, node.ErrNotFound)
	}
	for _, ct := range p.allContainers() {
		if ct.spec.Name == c.Name {
			return ct, nil
		}
	}
	return nil, fmt.Errorf("container %q in pod %s/%s: %w", c.Name, c.Namespace, c.PodRef.Name, node.ErrNotFound)
}
