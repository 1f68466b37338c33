package table

import (
	"slices"
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
)

// NodeColumns are the columns of the API server's Node table.
var NodeColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the node."},
	{Name: "Status", Type: "string", Description: "Whether the node is ready, and schedulable."},
	{Name: "Roles", Type: "string", Description: "The node's roles, from its node-role labels."},
	{Name: "Age", Type: "string", Description: "Time since the node was registered."},
	{Name: "Version", Type: "string", Description: "The node's kubelet version."},
	{Name: "Internal-IP", Type: "string", Priority: 1, Description: "The node's internal address."},
	{Name: "External-IP", Type: "string", Priority: 1, Description: "The node's external address."},
	{Name: "OS-Image", Type: "string", Priority: 1, Description: "The node's operating system."},
	{Name: "Kernel-Version", Type: "string", Priority: 1, Description: "The node's kernel and architecture."},
	{Name: "Container-Runtime", Type: "string", Priority: 1, Description: "The node's container runtime and its version."},
}

// nodeRolePrefix marks a role label: node-role.kubernetes.io/ROLE.
const nodeRolePrefix = "node-role.kubernetes.io/"

// NodeRow returns the cells of n for NodeColumns, as of now.
func NodeRow(n *kube.Node, now time.Time) []any {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			status = "NotReady"
			if c.Status == "True" {
				status = "Ready"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	var roles []string
	for k := range n.Labels {
		if r, ok := strings.CutPrefix(k, nodeRolePrefix); ok && r != "" {
			roles = append(roles, r)
		}
	}
	if v, ok := n.Labels["kubernetes.io/role"]; ok && v != "" {
		roles = append(roles, v)
	}
	slices.Sort(roles)
	roles = slices.Compact(roles)
	info := n.Status.NodeInfo
	kernel := orUnknown(info.KernelVersion)
	if info.Architecture != "" {
		kernel += " (" + info.Architecture + ")"
	}
	return []any{n.Name, status, orNone(strings.Join(roles, ",")), Age(n.CreationTimestamp, now), info.KubeletVersion,
		nodeAddress(n, "InternalIP"), nodeAddress(n, "ExternalIP"), orUnknown(info.OSImage), kernel, orUnknown(info.ContainerRuntimeVersion)}
}

func nodeAddress(n *kube.Node, typ string) string {
	for _, a := range n.Status.Addresses {
		if a.Type == typ {
			return a.Address
		}
	}
	return none
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}
