package webhook

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/porthole/porthole/audit"
)

// The shape of the API server's audit events (audit.k8s.io/v1 Event and
// EventList), written with the fields the gateway knows; a receiver of
// kube-apiserver's audit webhook decodes them unchanged.
type eventList struct {
	Kind       string   `json:"kind"`
	APIVersion string   `json:"apiVersion"`
	Metadata   struct{} `json:"metadata"`
	Items      []event  `json:"items"`
}

type event struct {
	Kind                     string            `json:"kind"`
	APIVersion               string            `json:"apiVersion"`
	Level                    string            `json:"level"`
	AuditID                  string            `json:"auditID"`
	Stage                    string            `json:"stage"`
	RequestURI               string            `json:"requestURI"`
	Verb                     string            `json:"verb"`
	User                     userInfo          `json:"user"`
	SourceIPs                []string          `json:"sourceIPs,omitempty"`
	ObjectRef                *objectRef        `json:"objectRef,omitempty"`
	ResponseStatus           *status           `json:"responseStatus,omitempty"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`
}

type userInfo struct {
	Username string   `json:"username,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

type objectRef struct {
	Resource    string `json:"resource"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	APIVersion  string `json:"apiVersion"`
	Subresource string `json:"subresource,omitempty"`
}

type status struct {
	Metadata struct{} `json:"metadata"`
	Status   string   `json:"status,omitempty"`
	Message  string   `json:"message,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Code     int      `json:"code"`
}

// microTime is metav1.MicroTime's JSON form.
const microTime = "2006-01-02T15:04:05.000000Z07:00"

// annotation keys for what the API server's shape has no field for.
const annotationPrefix = "porthole.dev/"

// convert maps a gateway audit event onto the API server's: a session's
// start is the ResponseStarted stage of its upgrade request (code 101), its
// end and a denial are ResponseComplete; the session id is the audit ID, so
// both stages of a session share it, as the API server's do.
func convert(e audit.Event) event {
	ev := event{Kind: "Event", APIVersion: "audit.k8s.io/v1", Level: "Metadata", AuditID: e.ID,
		RequestURI: requestURI(e), Verb: "create", User: userInfo{Username: e.User, Groups: e.Groups},
		StageTimestamp: e.Time.UTC().Format(microTime), RequestReceivedTimestamp: e.Time.UTC().Format(microTime)}
	if host, _, err := net.SplitHostPort(e.Source); err == nil {
		ev.SourceIPs = []string{host}
	} else if e.Source != "" {
		ev.SourceIPs = []string{e.Source}
	}
	if e.Pod != "" {
		ev.ObjectRef = &objectRef{Resource: "pods", Namespace: e.Namespace, Name: e.Pod, APIVersion: "v1", Subresource: e.Verb}
	}
	a := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			a[annotationPrefix+k] = v
		}
	}
	set("container", e.Container)
	set("wire-in", e.WireIn)
	set("wire-out", e.WireOut)
	set("outcome", e.Outcome)
	if e.TTY {
		set("tty", "true")
	}
	switch e.Stage {
	case audit.StageStart:
		ev.Stage = "ResponseStarted"
		ev.ResponseStatus = &status{Code: 101}
	case audit.StageEnd:
		ev.Stage = "ResponseComplete"
		code, st := e.Code, "Success"
		if code == 0 {
			code = 101 // the upgrade's status; the session's outcome is annotated
		}
		if e.Outcome != "" && e.Outcome != "ok" {
			st = "Failure"
		}
		ev.ResponseStatus = &status{Code: code, Status: st, Message: e.Reason}
		if d, err := time.ParseDuration(e.Duration); err == nil {
			ev.RequestReceivedTimestamp = e.Time.Add(-d).UTC().Format(microTime)
		}
		set("duration", e.Duration)
		set("bytes-in", strconv.FormatInt(e.BytesIn, 10))
		set("bytes-out", strconv.FormatInt(e.BytesOut, 10))
		if e.ExitCode != nil {
			set("exit-code", strconv.Itoa(*e.ExitCode))
		}
	default: // denied, or a stage this mapping does not know
		ev.Stage = "ResponseComplete"
		ev.ResponseStatus = &status{Code: e.Code, Status: "Failure", Message: e.Reason}
		set("stage", string(e.Stage))
	}
	if len(a) > 0 {
		ev.Annotations = a
	}
	return ev
}

// requestURI rebuilds the path the client asked for.
func requestURI(e audit.Event) string {
	if e.Pod == "" {
		return ""
	}
	q := url.Values{}
	for _, c := range e.Command {
		q.Add("command", c)
	}
	if e.Container != "" {
		q.Set("container", e.Container)
	}
	if e.TTY {
		q.Set("tty", "true")
	}
	u := "/api/v1/namespaces/" + url.PathEscape(e.Namespace) + "/pods/" + url.PathEscape(e.Pod) + "/" + e.Verb
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	return strings.TrimSpace(u)
}
