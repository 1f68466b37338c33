package localrt

import (
	"time"

	"github.com/porthole/porthole/kube"
)

// Pod phases.
const (
	phasePending   = "Pending"
	phaseRunning   = "Running"
	phaseSucceeded = "Succeeded"
	phaseFailed    = "Failed"
)

// termination is how one run of a main process ended.
type termination struct {
	id         string
	exitCode   int32
	signal     int32
	reason     string // Completed, Error, StartError
	message    string
	startedAt  time.Time
	finishedAt time.Time
}

// snapshot is a container's state at one instant.
type snapshot struct {
	running    bool
	runID      string
	startedAt  time.Time
	waiting    string // reason while not running and not finished for good
	waitingMsg string
	last       *termination // the last run's end, if any
	prev       *termination // the end of the run before last
	restarts   int32
	ready      bool // running, and its readiness probe (if any) says so
}

// status computes the pod's status from its containers' snapshots and
// those of eph, its ephemeral containers.
func (p *pod) status(eph []*container) kube.PodStatus {
	p.rt.mu.Lock()
	start := p.startTime
	p.rt.mu.Unlock()
	st := kube.PodStatus{
		PodIP:     podIP,
		PodIPs:    []kube.PodIP{{IP: podIP}},
		HostIP:    podIP,
		HostIPs:   []kube.PodIP{{IP: podIP}},
		QOSClass:  "BestEffort", // no container states resources
		StartTime: timestamp(start),
	}
	snaps := make([]snapshot, len(p.containers))
	ready := true
	for i, c := range p.containers {
		snaps[i] = c.snapshot()
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(c, snaps[i]))
		ready = ready && snaps[i].ready
	}
	for _, c := range eph {
		cs := containerStatus(c, c.snapshot())
		cs.Ready = false // not among the pod's, which readiness counts
		st.EphemeralContainerStatuses = append(st.EphemeralContainerStatuses, cs)
	}
	st.Phase = phase(p.spec.Spec.RestartPolicy, snaps)
	st.Conditions = []kube.PodCondition{
		{Type: "Initialized", Status: "True"},
		{Type: "Ready", Status: condition(ready)},
		{Type: "ContainersReady", Status: condition(ready)},
		{Type: "PodScheduled", Status: "True"},
	}
	return st
}

func condition(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// containerStatus renders one container's snapshot.
func containerStatus(c *container, s snapshot) kube.ContainerStatus {
	started := s.running
	cs := kube.ContainerStatus{
		Name:         c.spec.Name,
		Ready:        s.ready,
		RestartCount: s.restarts,
		Image:        c.spec.Image,
		Started:      &started,
	}
	switch {
	case s.running:
		cs.ContainerID = "porthole://" + s.runID
		cs.State.Running = &kube.StateRunning{StartedAt: timestamp(s.startedAt)}
		cs.LastTerminationState.Terminated = s.last.state()
	case s.waiting != "":
		cs.State.Waiting = &kube.StateWaiting{Reason: s.waiting, Message: s.waitingMsg}
		cs.LastTerminationState.Terminated = s.last.state()
		if s.last != nil {
			cs.ContainerID = "porthole://" + s.last.id
		}
	case s.last != nil:
		cs.ContainerID = "porthole://" + s.last.id
		cs.State.Terminated = s.last.state()
		cs.LastTerminationState.Terminated = s.prev.state()
	default:
		cs.State.Waiting = &kube.StateWaiting{Reason: "ContainerCreating"}
	}
	return cs
}

// state renders a termination; nil for none.
func (t *termination) state() *kube.StateTerminated {
	if t == nil {
		return nil
	}
	return &kube.StateTerminated{
		ExitCode:   t.exitCode,
		Signal:     t.signal,
		Reason:     t.reason,
		Message:    t.message,
		StartedAt:  timestamp(t.startedAt),
		FinishedAt: timestamp(t.finishedAt),
	}
}

// phase computes the pod phase as the kubelet does (getPhase in
// pkg/kubelet/kubelet_pods.go): a container waiting to restart after a
// termination counts as stopped, not waiting.
func phase(policy string, snaps []snapshot) string {
	var waiting, running, stopped, succeeded int
	for _, s := range snaps {
		switch {
		case s.running:
			running++
		case s.last != nil:
			stopped++
			if s.last.exitCode == 0 {
				succeeded++
			}
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return phasePending
	case running > 0:
		return phaseRunning
	case stopped == 0:
		return phasePending
	case policy == restartAlways:
		return phaseRunning
	case stopped == succeeded:
		return phaseSucceeded
	case policy == restartNever:
		return phaseFailed
	default:
		return phaseRunning
	}
}
