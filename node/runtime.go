package node

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/resize"
)

// Runtime runs containers' processes. The node validates requests, speaks the
// wire and calls the Runtime; the Runtime never sees the transport.
// localrt is the default implementation; implementations must be safe for
// concurrent use.
type Runtime interface {
	// Pod returns the pod namespace/name, or an error wrapping ErrNotFound.
	// The node reads containers, their tty/stdin settings and status from it.
	Pod(ctx context.Context, namespace, name string) (*kube.Pod, error)
	// Exec runs cmd in the container's context and returns once the process
	// has exited and all its output has been written to streams.Stdout and
	// streams.Stderr. A non-zero exit is an error with an ExitCode() int
	// method (128+signal for a process killed by a signal). When ctx is
	// cancelled (the client vanished) the process is signalled (SIGHUP for a
	// tty, SIGTERM otherwise), then killed after a grace period, and Exec
	// returns only after it has exited.
	Exec(ctx context.Context, c Container, cmd []string, streams Streams) error
	// Attach joins the container's main process: stdin (if the container has
	// stdin open) goes to it, its output comes back, until ctx is cancelled,
	// streams.Stdin reaches EOF with stdinOnce, or the process exits.
	// Detaching never stops the process.
	Attach(ctx context.Context, c Container, streams Streams) error
	// PortForward connects stream to port in the pod's network namespace and
	// copies both ways until both directions are done; it propagates
	// half-close in each direction. A failed dial returns an error before any
	// byte is copied.
	PortForward(ctx context.Context, pod PodRef, port uint16, stream io.ReadWriteCloser) error
}

// UDPRuntime is a Runtime that can also reach UDP ports in a pod, for
// porthole's UDP port-forward (protocol/portforward's udp.go). The node
// offers UDP forwarding only when its Runtime implements it, so a runtime
// without it is refused at the upgrade, never half served.
type UDPRuntime interface {
	// DialUDP returns a UDP socket connected to port in the pod's network
	// namespace, for one flow: each Write sends one datagram and each Read
	// returns one (a reply, or the error of an earlier send, such as
	// ECONNREFUSED when nothing listens). The caller closes it. Errors wrap
	// ErrNotFound for a pod that does not exist.
	DialUDP(ctx context.Context, pod PodRef, port uint16) (net.Conn, error)
}

// PodRef names a pod.
type PodRef struct {
	Namespace, Name, UID string
}

// Container names a container of a pod.
type Container struct {
	PodRef
	Name string
}

// Streams are a session's standard streams as the runtime sees them.
type Streams struct {
	// Stdin is nil unless requested; it reads EOF when the client
	// half-closes. The node passes an *os.File (a pipe it feeds), so a
	// runtime can hand it to the process as is (no copy goroutine), and
	// then may close it once the process started (the process has its
	// copy; the node's later Close does nothing). A Read may block until
	// the node closes Stdin, which it does right after Exec or Attach
	// returns: runtimes must not wait for a pending stdin Read before
	// returning.
	Stdin  io.Reader
	Stdout io.Writer // nil unless requested
	Stderr io.Writer // nil unless requested; always nil with TTY (a tty merges stderr)
	TTY    bool
	// Size is the terminal size in force before the process starts (TTY only;
	// zero means the client sent none in time and the runtime picks 80x24).
	Size resize.Size
	// Resize delivers later sizes (TTY only); it is closed when the client's
	// resize stream ends.
	Resize <-chan resize.Size
	// Started, when not nil, is called once the process runs (Exec) or just
	// before joining it (Attach), before any output is written. The node
	// sends its "connected" message from it: sent any earlier, right after
	// the 101, that message races client-go's local stream setup, which drops
	// it with an "Unknown stream" error (client-go's read loop starts before
	// its streams exist). Not called when the process never starts.
	Started func()
}

// ErrNotFound is wrapped by Runtime errors for a pod or container that does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is wrapped by a runtime's errors for a pod it already runs
// (or still stops) when asked to add it again.
var ErrExists = errors.New("pod exists")

// ErrNotRunning is wrapped by Runtime errors for a container that is not running.
var ErrNotRunning = errors.New("container not running")

// ErrStalled is wrapped by Runtime errors for a session that took no output
// for too long while the container had output for it (a frozen or vanished
// client). The peer is not reading, so the node ends such a session at once,
// without waiting to send it a status.
var ErrStalled = errors.New("session output stalled")

// LogRuntime is a Runtime that keeps its containers' output, which the API's
// pods/log endpoint serves (optional: a node does not need it).
type LogRuntime interface {
	// LogRun returns the kept output of container c's latest run, or with
	// previous of the run before. Errors wrap ErrNotFound (no such pod,
	// container or previous run) or ErrNotStarted.
	LogRun(c Container, previous bool) (LogRun, error)
}

// LogRun is one run's kept output.
type LogRun interface {
	// Read returns the output kept from offset from on (from the oldest
	// byte kept when from is older), where each line of it began and when,
	// and the offset of the next byte. changed is closed once more output
	// arrives or the run ends; ended reports whether it has.
	Read(from int64) (data []byte, lines []LineStart, next int64, changed <-chan struct{}, ended bool)
}

// LineStart is where a line of output began and when it was read.
type LineStart struct {
	Offset int64
	Time   time.Time
}

// ErrNotStarted: the container has not run yet.
var ErrNotStarted = errors.New("container has not started")
