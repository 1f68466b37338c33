package criref

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"k8s.io/cri-streaming/pkg/streaming"
	utilexec "k8s.io/utils/exec"
)

// Runtime implements streaming.Runtime with local processes. Container IDs
// are "namespace/pod/container"; exec accepts any ID (the command runs on
// this host), attach needs a container started with StartContainer, and the
// port-forward sandbox ID is ignored (ports are dialled on 127.0.0.1).
//
// Runtime is safe for concurrent use. Close kills every process it started
// and joins every goroutine it started, including stdin copiers that were
// still blocked on a client stream when their process exited.
type Runtime struct {
	log *slog.Logger

	// life is cancelled by Close; every process runs under a context derived
	// from it, so Close kills them all.
	life   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	containers map[string]*container
	closed     bool
}

var _ streaming.Runtime = (*Runtime)(nil)

// NewRuntime returns an empty runtime. log may be nil.
func NewRuntime(log *slog.Logger) *Runtime {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	life, cancel := context.WithCancel(context.Background())
	return &Runtime{log: log, life: life, cancel: cancel, containers: map[string]*container{}}
}

// Close kills all processes and waits for the goroutines the runtime
// started. Blocked stdin copiers end when the streaming library closes
// their connection, so close the server's connections first.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.closed = true
	cs := make([]*container, 0, len(r.containers))
	for _, c := range r.containers {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	r.cancel()
	for _, c := range cs {
		<-c.done
	}
	r.wg.Wait()
	return nil
}

// procContext returns a context that ends with ctx or with the runtime.
func (r *Runtime) procContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.life, cancel)
	return ctx, func() { stop(); cancel() }
}

// goTracked runs fn on a goroutine that Close joins.
func (r *Runtime) goTracked(fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// exitError converts a process exit into the error type the streaming
// library recognises (it type-asserts k8s.io/utils/exec.ExitError, so the
// value must not be wrapped). A death by signal N becomes exit code 128+N,
// as container runtimes report it. Other errors pass through and end up as
// an InternalError status.
func exitError(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	code := ee.ExitCode()
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return utilexec.CodeExitError{Err: ee, Code: code}
}

// defaultContainer names the only container declared for ns/pod, or "main".
func (r *Runtime) defaultContainer(ns, pod string) string {
	prefix := ns + "/" + pod + "/"
	r.mu.Lock()
	defer r.mu.Unlock()
	name, n := "main", 0
	for id := range r.containers {
		if rest, ok := strings.CutPrefix(id, prefix); ok {
			name, n = rest, n+1
		}
	}
	if n != 1 {
		return "main"
	}
	return name
}
