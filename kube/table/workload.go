package table

import (
	"strconv"
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
)

// ServiceColumns are the columns of the API server's Service table.
var ServiceColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Service, unique within its namespace."},
	{Name: "Type", Type: "string", Description: "How the Service is exposed."},
	{Name: "Cluster-IP", Type: "string", Description: "The Service's virtual IP, or None for a headless Service."},
	{Name: "External-IP", Type: "string", Description: "External addresses of the Service."},
	{Name: "Port(s)", Type: "string", Description: "The Service's ports."},
	{Name: "Age", Type: "string", Description: "Time since the Service was created."},
	{Name: "Selector", Type: "string", Priority: 1, Description: "Labels of the pods the Service routes to."},
}

// ServiceRow returns the cells of s for ServiceColumns, as of now.
func ServiceRow(s *kube.Service, now time.Time) []any {
	ports := make([]string, len(s.Spec.Ports))
	for i, p := range s.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		ports[i] = strconv.Itoa(int(p.Port)) + "/" + proto
		if p.NodePort != 0 {
			ports[i] = strconv.Itoa(int(p.Port)) + ":" + strconv.Itoa(int(p.NodePort)) + "/" + proto
		}
	}
	portCell := strings.Join(ports, ",")
	if portCell == "" {
		portCell = none
	}
	external := strings.Join(s.Spec.ExternalIPs, ",")
	sel := none
	if len(s.Spec.Selector) > 0 {
		sel = kube.SelectorFromMap(s.Spec.Selector).String()
	}
	return []any{s.Name, s.Spec.Type, orNone(s.Spec.ClusterIP), orNone(external), portCell, Age(s.CreationTimestamp, now), sel}
}

// DeploymentColumns are the columns of the API server's Deployment table.
var DeploymentColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Deployment, unique within its namespace."},
	{Name: "Ready", Type: "string", Description: "Ready pods out of desired."},
	{Name: "Up-to-date", Type: "integer", Description: "Pods of the current template."},
	{Name: "Available", Type: "integer", Description: "Pods available to serve."},
	{Name: "Age", Type: "string", Description: "Time since the Deployment was created."},
	{Name: "Containers", Type: "string", Priority: 1, Description: "Names of the template's containers."},
	{Name: "Images", Type: "string", Priority: 1, Description: "Images of the template's containers."},
	{Name: "Selector", Type: "string", Priority: 1, Description: "Labels of the Deployment's pods."},
}

// DeploymentRow returns the cells of d for DeploymentColumns, as of now.
func DeploymentRow(d *kube.Deployment, now time.Time) []any {
	return []any{
		d.Name,
		strconv.Itoa(int(d.Status.ReadyReplicas)) + "/" + strconv.Itoa(int(kube.Replicas(d.Spec.Replicas))),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		Age(d.CreationTimestamp, now),
		d.Spec.Template.Spec.Names(),
		d.Spec.Template.Spec.Images(),
		d.Spec.Selector.String(),
	}
}

// ReplicaSetColumns are the columns of the API server's ReplicaSet table.
var ReplicaSetColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the ReplicaSet, unique within its namespace."},
	{Name: "Desired", Type: "integer", Description: "Pods wanted."},
	{Name: "Current", Type: "integer", Description: "Pods that exist."},
	{Name: "Ready", Type: "integer", Description: "Pods that are ready."},
	{Name: "Age", Type: "string", Description: "Time since the ReplicaSet was created."},
	{Name: "Containers", Type: "string", Priority: 1, Description: "Names of the template's containers."},
	{Name: "Images", Type: "string", Priority: 1, Description: "Images of the template's containers."},
	{Name: "Selector", Type: "string", Priority: 1, Description: "Labels of the ReplicaSet's pods."},
}

// ReplicaSetRow returns the cells of rs for ReplicaSetColumns, as of now.
func ReplicaSetRow(rs *kube.ReplicaSet, now time.Time) []any {
	return []any{
		rs.Name,
		int64(kube.Replicas(rs.Spec.Replicas)),
		int64(rs.Status.Replicas),
		int64(rs.Status.ReadyReplicas),
		Age(rs.CreationTimestamp, now),
		rs.Spec.Template.Spec.Names(),
		rs.Spec.Template.Spec.Images(),
		rs.Spec.Selector.String(),
	}
}
