package table

import (
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
)

// EventColumns are the columns of the API server's Event table.
var EventColumns = []kube.TableColumnDefinition{
	{Name: "Last Seen", Type: "string", Description: "When the event was last seen."},
	{Name: "Type", Type: "string", Description: "Normal or Warning."},
	{Name: "Reason", Type: "string", Description: "Why the event happened, in one word."},
	{Name: "Object", Type: "string", Description: "The object the event is about."},
	{Name: "Subobject", Type: "string", Priority: 1, Description: "The part of the object, such as a container."},
	{Name: "Source", Type: "string", Priority: 1, Description: "The component, and host, that reported the event."},
	{Name: "Message", Type: "string", Description: "What happened."},
	{Name: "First Seen", Type: "string", Priority: 1, Description: "When the event was first seen."},
	{Name: "Count", Type: "string", Priority: 1, Description: "How many times the event was seen."},
	{Name: "Name", Type: "string", Priority: 1, Format: "name", Description: "Name of the event, unique within its namespace."},
}

// EventRow returns the cells of e for EventColumns, as of now.
func EventRow(e *kube.Event, now time.Time) []any {
	first := Age(e.FirstTimestamp, now)
	last := first
	if e.LastTimestamp != "" {
		last = Age(e.LastTimestamp, now)
	}
	count := int64(max(e.Count, 1)) // a singleton of the newer API has none
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target += "/" + e.InvolvedObject.Name
	}
	component, host := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if host == "" {
		host = e.ReportingInstance
	}
	source := component
	if host != "" {
		source += ", " + host
	}
	return []any{last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath, source, strings.TrimSpace(e.Message), first, count, e.Name}
}
