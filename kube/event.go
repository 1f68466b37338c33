package kube

// Event is a v1 Event: something a component saw happen to an object, as
// kubectl describe and kubectl events show it.
type Event struct {
	TypeMeta       `json:",inline"`
	ObjectMeta     `json:"metadata"`
	InvolvedObject ObjectReference `json:"involvedObject"`
	Reason         string          `json:"reason,omitempty"`
	Message        string          `json:"message,omitempty"`
	Source         EventSource     `json:"source,omitempty"`
	FirstTimestamp string          `json:"firstTimestamp,omitempty"`
	LastTimestamp  string          `json:"lastTimestamp,omitempty"`
	Count          int32           `json:"count,omitempty"`
	Type           string          `json:"type,omitempty"` // Normal or Warning
	// ReportingController and ReportingInstance are the newer names of
	// the source; the API server writes them even when empty.
	ReportingController string `json:"reportingComponent"`
	ReportingInstance   string `json:"reportingInstance"`
}

// ObjectReference names an object, or a part of it (fieldPath, such as
// spec.containers{web}).
type ObjectReference struct {
	Kind            string `json:"kind,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	FieldPath       string `json:"fieldPath,omitempty"`
}

// EventSource is the component, and host, that reported an event.
type EventSource struct {
	Component string `json:"component,omitempty"`
	Host      string `json:"host,omitempty"`
}

// EventList is a v1 EventList.
type EventList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Event `json:"items"`
}

// EventFields are the field selector keys the event list supports: those
// kubectl describe and kubectl events send, and the API server's others.
var EventFields = []string{"metadata.name", "metadata.namespace",
	"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
	"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
	"reason", "reportingComponent", "source", "type"}

// EventField returns a lookup function over the selectable fields of e.
func EventField(e *Event) func(string) (string, bool) {
	return func(k string) (string, bool) {
		switch k {
		case "metadata.name":
			return e.Name, true
		case "metadata.namespace":
			return e.Namespace, true
		case "involvedObject.kind":
			return e.InvolvedObject.Kind, true
		case "involvedObject.namespace":
			return e.InvolvedObject.Namespace, true
		case "involvedObject.name":
			return e.InvolvedObject.Name, true
		case "involvedObject.uid":
			return e.InvolvedObject.UID, true
		case "involvedObject.apiVersion":
			return e.InvolvedObject.APIVersion, true
		case "involvedObject.resourceVersion":
			return e.InvolvedObject.ResourceVersion, true
		case "involvedObject.fieldPath":
			return e.InvolvedObject.FieldPath, true
		case "reason":
			return e.Reason, true
		case "reportingComponent":
			return e.ReportingController, true
		case "source":
			if e.Source.Component == "" {
				return e.ReportingController, true
			}
			return e.Source.Component, true
		case "type":
			return e.Type, true
		}
		return "", false
	}
}
