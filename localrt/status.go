package localrt

import (
	"fmt"
	"slices"
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
	var unready []string
	for i, c := range p.containers {
		snaps[i] = c.snapshot()
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(c, snaps[i]))
		if !snaps[i].ready {
			unready = append(unready, c.spec.Name)
		}
	}
	for _, c := range eph {
		cs := containerStatus(c, c.snapshot())
		cs.Ready = false // not among the pod's, which readiness counts
		st.EphemeralContainerStatuses = append(st.EphemeralContainerStatuses, cs)
	}
	st.Phase = phase(p.spec.Spec.RestartPolicy, snaps)
	st.Conditions = p.since(conditions(st.Phase, unready), time.Now())
	return st
}

// conditions are a pod's conditions as the kubelet (1.29 and later)
// generates them, in its order, for its phase and its containers that
// are not ready.
func conditions(phase string, unready []string) []kube.PodCondition {
	sandbox, initialized := kube.PodCondition{Status: "True"}, kube.PodCondition{Status: "True"}
	ready := kube.PodCondition{Status: "True"}
	switch {
	case phase == phaseSucceeded:
		sandbox.Status = "False" // the sandbox is gone with the containers
		initialized.Reason = "PodCompleted"
		ready = kube.PodCondition{Status: "False", Reason: "PodCompleted"}
	case phase == phaseFailed:
		sandbox.Status = "False"
		ready = kube.PodCondition{Status: "False", Reason: "PodFailed"}
	case len(unready) > 0:
		ready = kube.PodCondition{Status: "False", Reason: "ContainersNotReady", Message: fmt.Sprintf("containers with unready status: %s", unready)}
	}
	sandbox.Type, initialized.Type = "PodReadyToStartContainers", "Initialized"
	podReady, containersReady := ready, ready
	podReady.Type, containersReady.Type = "Ready", "ContainersReady"
	return []kube.PodCondition{sandbox, initialized, podReady, containersReady, {Type: "PodScheduled", Status: "True"}}
}

// since dates conds as the kubelet's status manager does: a condition
// whose status is what it was last reported keeps its transition time,
// any other transitions now. conds become the last reported.
func (p *pod) since(conds []kube.PodCondition, now time.Time) []kube.PodCondition {
	p.rt.mu.Lock()
	defer p.rt.mu.Unlock()
	for i := range conds {
		c := &conds[i]
		c.LastTransitionTime = timestamp(now)
		for _, was := range p.conds {
			if was.Type == c.Type && was.Status == c.Status {
				c.LastTransitionTime = was.LastTransitionTime
			}
		}
	}
	p.conds = conds
	return slices.Clone(conds)
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
