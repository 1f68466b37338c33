package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// apiRequest is what an API path names, read as the API server's request
// info does: a non-resource path (discovery, version, health) or a
// resource request with its group, version, namespace, resource, name and
// subresource.
type apiRequest struct {
	resource    bool
	group       string // "" for the core group (/api/v1)
	version     string
	namespace   string
	kind        string // the resource, "pods"
	name        string
	subresource string
}

// checkPath refuses what could make the path authorized differ from the
// path forwarded: escaped characters the default encoding would not
// produce (an escaped slash makes one segment of the authorized path two
// segments upstream), dot segments, and empty segments. Real clients send
// none of them: object names are DNS labels and subdomains.
func checkPath(u *url.URL) *status.HTTPError {
	bad := func(why string) *status.HTTPError {
		return status.NewHTTPError(http.StatusBadRequest, "BadRequest", "invalid request path: "+why, nil)
	}
	if u.RawPath != "" || u.EscapedPath() != u.Path || strings.ContainsAny(u.Path, "\\%") {
		return bad("escaped characters are not allowed")
	}
	if !strings.HasPrefix(u.Path, "/") {
		return bad("not an absolute path")
	}
	segs := strings.Split(u.Path[1:], "/")
	for i, s := range segs {
		switch {
		case s == "." || s == "..":
			return bad("dot segments are not allowed")
		case s == "" && i != len(segs)-1:
			return bad("empty segments are not allowed")
		}
	}
	return nil
}

// parseAPIPath reads a checked /api or /apis path. ok is false for paths
// that are neither discovery nor a resource request of at most
// resource/name/subresource (the proxy subresources' trailing paths, the
// deprecated /watch/ prefix).
func parseAPIPath(p string) (req apiRequest, ok bool) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case parts[0] == "api" && len(parts) <= 2:
		return apiRequest{}, true // /api, /api/v1
	case parts[0] == "api":
		req.version, parts = parts[1], parts[2:]
	case parts[0] == "apis" && len(parts) <= 3:
		return apiRequest{}, true // /apis, /apis/g, /apis/g/v
	case parts[0] == "apis":
		req.group, req.version, parts = parts[1], parts[2], parts[3:]
	default:
		return apiRequest{}, false
	}
	req.resource = true
	if parts[0] == "watch" {
		return req, false
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		req.namespace = parts[1]
		if len(parts) > 2 && parts[2] != "status" && parts[2] != "finalize" {
			parts = parts[2:]
		}
	}
	if len(parts) > 3 {
		return req, false
	}
	req.kind = parts[0]
	if len(parts) > 1 {
		req.name = parts[1]
	}
	if len(parts) > 2 {
		req.subresource = parts[2]
	}
	return req, true
}

// readable are the resources kubectl reads around streaming, by group:
// the pod itself, namespaces for pickers, the objects kubectl resolves
// to a pod (exec deploy/web, port-forward svc/db), events, which kubectl
// describe pod lists to say why a pod will not run, and the nodes pods
// run on with their leases (kubectl get nodes, describe node), the
// endpoints behind a Service (kubectl describe service), the ConfigMaps
// pods read their environment from, and the rest of the kinds kubectl
// apply --prune lists by default (claims and volumes, cron jobs,
// ingresses). Nothing else (secrets, unless Options.Secrets, RBAC
// objects) is forwarded, whatever RBAC allows.
var readable = map[string][]string{
	"":                    {"pods", "namespaces", "nodes", "services", "endpoints", "replicationcontrollers", "events", "configmaps", "persistentvolumeclaims", "persistentvolumes"},
	"apps":                {"deployments", "replicasets", "statefulsets", "daemonsets"},
	"batch":               {"jobs", "cronjobs"},
	"coordination.k8s.io": {"leases"},
	"discovery.k8s.io":    {"endpointslices"},
	"events.k8s.io":       {"events"},
	"networking.k8s.io":   {"ingresses"},
}

// readableResource reports whether a GET of req may be forwarded at all:
// the readable resources and their status, a pod's log (authorized as
// get pods/log), which kubectl reads as a session's companion, and
// Secrets when secrets is set (Options.Secrets).
func (req apiRequest) readableResource(secrets bool) bool {
	if secrets && req.isSecret() && req.subresource == "" {
		return true
	}
	if req.group == "" && req.kind == "pods" && req.subresource == "log" && req.name != "" {
		return true
	}
	if req.group == "apps" && req.kind == "deployments" && req.subresource == "scale" && req.name != "" {
		return true
	}
	if req.isEphemeralContainers() {
		return true
	}
	return slices.Contains(readable[req.group], req.kind) &&
		(req.subresource == "" || req.subresource == "status")
}

// isSecret is a path of Secrets: one, or a namespace's or every
// namespace's collection.
func (req apiRequest) isSecret() bool { return req.group == "" && req.kind == "secrets" }

// isEphemeralContainers is a pod's ephemeralcontainers subresource
// (kubectl debug).
func (req apiRequest) isEphemeralContainers() bool {
	return req.group == "" && req.kind == "pods" && req.subresource == "ephemeralcontainers" && req.name != ""
}

// writeVerb is the verb a write of req is authorized as, when the gateway
// forwards it at all: POST of a namespace, or of a pod, Service,
// ConfigMap or Deployment to a namespace, DELETE of one of those or of a
// ReplicaSet (or of a namespace's collection of them), PATCH or PUT of
// one of those, PATCH or PUT of one Deployment's scale or of a pod's
// ephemeral containers; with secrets (Options.Secrets), Secrets as
// ConfigMaps.
func (req apiRequest) writeVerb(method string, secrets bool) (string, bool) {
	if !req.resource || req.version != "v1" {
		return "", false
	}
	if req.group == "" && req.kind == "namespaces" && req.subresource == "" {
		// Cluster-scoped: created at /api/v1/namespaces, and named as its
		// own namespace after, as the API server's request info has it.
		switch {
		case req.name == "" && method == http.MethodPost:
			return "create", true
		case req.name != "" && method == http.MethodDelete:
			return "delete", true
		case req.name != "" && method == http.MethodPatch:
			return "patch", true
		case req.name != "" && method == http.MethodPut:
			return "update", true
		}
		return "", false
	}
	if req.namespace == "" {
		return "", false
	}
	if (req.subresource == "scale" && req.group == "apps" && req.kind == "deployments" && req.name != "") || req.isEphemeralContainers() {
		switch method {
		case http.MethodPatch:
			return "patch", true
		case http.MethodPut:
			return "update", true
		}
		return "", false
	}
	if req.subresource != "" {
		return "", false
	}
	kind := req.group + "/" + req.kind
	writable := kind == "/pods" || kind == "/services" || kind == "/configmaps" || kind == "apps/deployments" ||
		(secrets && req.isSecret())
	switch {
	case req.name == "" && method == http.MethodPost && writable:
		return "create", true
	case req.name != "" && method == http.MethodDelete && (writable || kind == "apps/replicasets"):
		return "delete", true
	case req.name == "" && method == http.MethodDelete && (writable || kind == "apps/replicasets"):
		return "deletecollection", true
	case req.name != "" && method == http.MethodPatch && writable:
		return "patch", true
	case req.name != "" && method == http.MethodPut && writable:
		return "update", true
	}
	return "", false
}

// readVerb is the verb a GET of req is authorized as.
func (req apiRequest) readVerb(q url.Values) string {
	switch {
	case req.name != "":
		return "get"
	case protocol.QueryBool(q, "watch"):
		return "watch"
	default:
		return "list"
	}
}
