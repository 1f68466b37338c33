package client

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// PortForwardEvent is one thing a port-forward reports as it runs: what
// kubectl prints, as data. String words it as kubectl does.
type PortForwardEvent struct {
	Kind PortForwardEventKind
	// Port is the forward the event concerns (zero for session events);
	// for listen events its Local is the port asked for or bound.
	Port ForwardedPort
	// Addr is the bound address of EventListening, or the local peer of a
	// UDP flow (EventConnection, EventDatagramsDropped).
	Addr net.Addr
	// Message is the pod's error text (EventRemoteError), or why a
	// followed pod was left (EventPodGone: deleted, terminating, ...).
	Message string
	// Pod is the pod left (EventPodGone) or now used (EventPodSwitched).
	Pod string
	// Err is the local failure (listen, accept, connection, reconnect), or
	// why datagrams were dropped when not for a full queue.
	Err error
	// Dropped counts the datagrams EventDatagramsDropped reports.
	Dropped uint64
}

// PortForwardEventKind says what happened.
type PortForwardEventKind int

const (
	// EventListening: a local address is bound. "Forwarding from ADDR -> PORT".
	EventListening PortForwardEventKind = iota + 1
	// EventListenWarning: one of a port's addresses could not be bound.
	EventListenWarning
	// EventListenFailed: none of a port's addresses could be bound; the port is skipped.
	EventListenFailed
	// EventAcceptFailed: a listener failed and stops.
	EventAcceptFailed
	// EventConnection: a local connection was accepted. "Handling connection for PORT".
	EventConnection
	// EventRemoteError: the pod's side reported an error for a connection
	// (nothing listening on the remote port, say); that connection ends.
	EventRemoteError
	// EventConnectionFailed: a connection failed locally or on the wire.
	EventConnectionFailed
	// EventSessionLost: the session to the pod ended; reconnecting.
	EventSessionLost
	// EventReconnected: a new session replaced the lost one.
	EventReconnected
	// EventReconnectFailed: one reconnection attempt failed (reported when
	// its error differs from the previous attempt's); retrying.
	EventReconnectFailed
	// EventPodGone: following a target, the pod in use went away; new
	// connections wait for the next ready pod, open ones run on.
	EventPodGone
	// EventPodSwitched: following a target, new connections now go to Pod.
	EventPodSwitched
	// EventDatagramsDropped: datagrams of a UDP port were dropped at the
	// local socket (a flow's queue was full while the server was slow, too
	// many flows, a datagram too large to forward), reported when a flow
	// ends or, for the port's limits, when they start refusing.
	EventDatagramsDropped
	// EventFlowExpired: a UDP flow carried nothing for the idle timeout
	// and ended; the peer's next datagram starts a new one.
	EventFlowExpired
)

// IsError reports whether kubectl prints the event on stderr.
func (e PortForwardEvent) IsError() bool {
	return e.Kind != EventListening && e.Kind != EventConnection && e.Kind != EventPodSwitched && e.Kind != EventFlowExpired
}

// String is the event in kubectl's words, without a newline.
func (e PortForwardEvent) String() string {
	switch e.Kind {
	case EventListening:
		return fmt.Sprintf("Forwarding from %s -> %d%s", e.Addr, e.Port.Remote, e.Port.suffix())
	case EventListenWarning:
		return fmt.Sprintf("Warning: port %d: %v", e.Port.Local, e.Err)
	case EventListenFailed:
		return fmt.Sprintf("Unable to listen on port %d: %v", e.Port.Local, e.Err)
	case EventAcceptFailed:
		return fmt.Sprintf("error accepting connection on port %d: %v", e.Port.Local, e.Err)
	case EventConnection:
		if e.Port.isUDP() {
			return fmt.Sprintf("Handling UDP flow for %d from %s", e.Port.Local, e.Addr)
		}
		return fmt.Sprintf("Handling connection for %d", e.Port.Local)
	case EventRemoteError:
		return fmt.Sprintf("an error occurred forwarding %d -> %d: %s", e.Port.Local, e.Port.Remote, e.Message)
	case EventConnectionFailed:
		return fmt.Sprintf("error forwarding %d -> %d: %v", e.Port.Local, e.Port.Remote, e.Err)
	case EventSessionLost:
		return "lost connection to pod, reconnecting..."
	case EventReconnected:
		return "reconnected"
	case EventReconnectFailed:
		return fmt.Sprintf("reconnect failed: %v (retrying)", e.Err)
	case EventPodGone:
		return fmt.Sprintf("pod %s is gone (%s): new connections wait for the next ready pod", e.Pod, e.Message)
	case EventPodSwitched:
		return fmt.Sprintf("forwarding to pod %s", e.Pod)
	case EventFlowExpired:
		return fmt.Sprintf("UDP flow for %d from %s expired", e.Port.Local, e.Addr)
	case EventDatagramsDropped:
		s := fmt.Sprintf("dropped %d datagram(s) for %d -> %d/udp from %s", e.Dropped, e.Port.Local, e.Port.Remote, e.Addr)
		if e.Err != nil {
			s += ": " + e.Err.Error()
		}
		return s
	}
	return fmt.Sprintf("port-forward event %d", int(e.Kind))
}

// PrintEvents returns a PortForwardOptions.Events that prints each event as
// kubectl does: progress on out, errors on errOut (nil discards), one line
// per Write.
func PrintEvents(out, errOut io.Writer) func(PortForwardEvent) {
	return func(e PortForwardEvent) {
		w := out
		if e.IsError() {
			w = errOut
		}
		if w != nil {
			_, _ = io.WriteString(w, e.String()+"\n")
		}
	}
}

// events delivers a forward's events one at a time, in order.
type events struct {
	mu sync.Mutex
	f  func(PortForwardEvent)
}

func (ev *events) emit(e PortForwardEvent) {
	if ev.f == nil {
		return
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.f(e)
}
