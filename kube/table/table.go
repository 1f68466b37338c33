// Package table fills the API server's tables (the Table form kubectl asks
// for with its Accept header) for pods and namespaces: the columns, rows,
// status reasons and ages kubectl get prints.
package table

import (
	"strconv"
	"time"

	"github.com/porthole/porthole/kube"
)

// PodColumns are the columns of the API server's pod table, in order; the
// priority-1 ones are what kubectl adds with -o wide. PodRow fills them.
var PodColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the pod, unique within its namespace."},
	{Name: "Ready", Type: "string", Description: "Ready containers out of all containers."},
	{Name: "Status", Type: "string", Description: "Aggregate state of the pod's containers."},
	{Name: "Restarts", Type: "string", Description: "Restarts of the pod's containers."},
	{Name: "Age", Type: "string", Description: "Time since the pod was created."},
	{Name: "IP", Type: "string", Priority: 1, Description: "IP address of the pod."},
	{Name: "Node", Type: "string", Priority: 1, Description: "Node the pod runs on."},
	{Name: "Nominated Node", Type: "string", Priority: 1, Description: "Node nominated by preemption."},
	{Name: "Readiness Gates", Type: "string", Priority: 1, Description: "Readiness gates that are true out of all."},
}

// NamespaceColumns are the columns of the API server's namespace table.
var NamespaceColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the namespace."},
	{Name: "Status", Type: "string", Description: "Phase of the namespace."},
	{Name: "Age", Type: "string", Description: "Time since the namespace was created."},
}

// AbsentColumns are the columns of a kind serve never holds: a table of
// one has no rows to show them.
var AbsentColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the object."},
	{Name: "Age", Type: "string", Description: "Time since the object was created."},
}

// SecretColumns are the columns of the API server's Secret table.
var SecretColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Secret."},
	{Name: "Type", Type: "string", Description: "The Secret's type, which says what keys its data must have."},
	{Name: "Data", Type: "string", Description: "Number of keys in data."},
	{Name: "Age", Type: "string", Description: "Time since the Secret was created."},
}

// ConfigMapColumns are the columns of the API server's ConfigMap table.
var ConfigMapColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the ConfigMap."},
	{Name: "Data", Type: "string", Description: "Number of keys, in data and binaryData."},
	{Name: "Age", Type: "string", Description: "Time since the ConfigMap was created."},
}

const none = "<none>"

// PodRow returns the cells of p for PodColumns, as of now.
func PodRow(p *kube.Pod, now time.Time) []any {
	ready, restarts := 0, int32(0)
	var lastRestart time.Time
	for _, cs := range p.Status.ContainerStatuses {
		restarts += cs.RestartCount
		if cs.Ready && cs.State.Running != nil {
			ready++
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			if ft, err := time.Parse(time.RFC3339, t.FinishedAt); err == nil && ft.After(lastRestart) {
				lastRestart = ft
			}
		}
	}
	restartCell := strconv.Itoa(int(restarts))
	if restarts != 0 && !lastRestart.IsZero() {
		restartCell += " (" + HumanDuration(now.Sub(lastRestart)) + " ago)"
	}
	return []any{
		p.Name,
		strconv.Itoa(ready) + "/" + strconv.Itoa(len(p.Spec.Containers)),
		PodStatusReason(p),
		restartCell,
		Age(p.CreationTimestamp, now),
		orNone(p.Status.PodIP),
		orNone(p.Spec.NodeName),
		none,
		none,
	}
}

// PodRowConditions are the row conditions of p: Completed for a pod that
// succeeded or failed, as the API server marks them.
func PodRowConditions(p *kube.Pod) []kube.TableRowCondition {
	switch p.Status.Phase {
	case "Succeeded":
		return []kube.TableRowCondition{{Type: "Completed", Status: "True", Reason: "Succeeded", Message: "The pod has completed successfully."}}
	case "Failed":
		return []kube.TableRowCondition{{Type: "Completed", Status: "True", Reason: "Failed", Message: "The pod failed."}}
	}
	return nil
}

// NamespaceRow returns the cells of ns for NamespaceColumns, as of now.
func NamespaceRow(ns *kube.Namespace, now time.Time) []any {
	return []any{ns.Name, ns.Status.Phase, Age(ns.CreationTimestamp, now)}
}

// SecretRow returns the cells of s for SecretColumns, as of now.
func SecretRow(s *kube.Secret, now time.Time) []any {
	return []any{s.Name, s.Type, int64(len(s.Data)), Age(s.CreationTimestamp, now)}
}

// ConfigMapRow returns the cells of cm for ConfigMapColumns, as of now.
func ConfigMapRow(cm *kube.ConfigMap, now time.Time) []any {
	return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), Age(cm.CreationTimestamp, now)}
}

// PodStatusReason is the STATUS column: the phase, overridden by the reason
// of the last container that is waiting or terminated, as kubectl shows it.
func PodStatusReason(p *kube.Pod) string {
	reason := p.Status.Phase
	if reason == "" {
		reason = "Unknown"
	}
	running := false
	cs := p.Status.ContainerStatuses
	for i := len(cs) - 1; i >= 0; i-- {
		st := cs[i].State
		switch {
		case st.Waiting != nil && st.Waiting.Reason != "":
			reason = st.Waiting.Reason
		case st.Terminated != nil && st.Terminated.Reason != "":
			reason = st.Terminated.Reason
		case st.Terminated != nil && st.Terminated.Signal != 0:
			reason = "Signal:" + strconv.Itoa(int(st.Terminated.Signal))
		case st.Terminated != nil:
			reason = "ExitCode:" + strconv.Itoa(int(st.Terminated.ExitCode))
		case st.Running != nil && cs[i].Ready:
			running = true
		}
	}
	// A pod with one container completed and another still running shows
	// Running, or NotReady when the pod is not ready as a whole.
	if reason == "Completed" && running {
		reason = "NotReady"
		for _, c := range p.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				reason = "Running"
			}
		}
	}
	if p.DeletionTimestamp != "" {
		reason = "Terminating"
	}
	return reason
}

// Age formats the time since an RFC 3339 timestamp as kubectl does, or
// "<unknown>" when there is none.
func Age(timestamp string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, timestamp)
	if err != nil {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(t))
}

// HumanDuration renders d with two significant units at most, coarser as it
// grows: "45s", "5m30s", "2h", "3d4h", "2y10d" (the API server's format,
// including "<invalid>" for clocks more than a second in the future).
func HumanDuration(d time.Duration) string {
	sec := int64(d / time.Second)
	const (
		minute = 60
		hour   = 60 * minute
		day    = 24 * hour
		year   = 365 * day
	)
	switch {
	case sec < -1:
		return "<invalid>"
	case sec < 0:
		return "0s"
	case sec < 2*minute:
		return pair(sec, 1, "s", 0, "")
	case sec < 10*minute:
		return pair(sec, minute, "m", 1, "s")
	case sec < 3*hour:
		return pair(sec, minute, "m", 0, "")
	case sec < 8*hour:
		return pair(sec, hour, "h", minute, "m")
	case sec < 48*hour:
		return pair(sec, hour, "h", 0, "")
	case sec < 8*day:
		return pair(sec, day, "d", hour, "h")
	case sec < 2*year:
		return pair(sec, day, "d", 0, "")
	case sec < 8*year:
		return pair(sec/day, 365, "y", 1, "d")
	default:
		return pair(sec, year, "y", 0, "")
	}
}

// pair prints v in units of big, then the remainder in units of small
// unless small is 0 or the remainder rounds down to zero.
func pair(v, big int64, bigName string, small int64, smallName string) string {
	s := strconv.FormatInt(v/big, 10) + bigName
	if small == 0 {
		return s
	}
	if r := (v % big) / small; r != 0 {
		s += strconv.FormatInt(r, 10) + smallName
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}
