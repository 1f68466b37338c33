package node

import (
	"context"
	"errors"
	"net/http"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

func (n *Node) routes() {
	for _, verb := range []string{"exec", "attach", "portforward"} {
		n.mux.HandleFunc("/api/v1/namespaces/{namespace}/pods/{pod}/"+verb, n.streamingHandler(verb))
	}
	n.kubeletRoutes()
}

func (n *Node) streamingHandler(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := n.serveStreaming(w, r, verb); err != nil {
			n.log.Info("streaming request refused", "verb", verb, "path", r.URL.Path,
				"code", err.Code(), "err", err)
			err.Write(w)
		}
	}
}

// serveStreaming validates the request as the API server would, then hands
// it to the wire the client asked for. Errors before the upgrade come back
// as an *status.HTTPError for the caller to answer.
func (n *Node) serveStreaming(w http.ResponseWriter, r *http.Request, verb string) *status.HTTPError {
	if herr := checkMethod(r); herr != nil {
		return herr
	}
	req, herr := parseRequest(r, verb)
	if herr != nil {
		return herr
	}
	pod, herr := n.lookupPod(r, req)
	if herr != nil {
		return herr
	}
	ref := PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
	// Hijacked connections outlive r.Context's tracking; the session owns
	// its lifetime and ends with the connection.
	ctx := context.WithoutCancel(r.Context())
	if verb == "portforward" {
		return n.servePortForward(ctx, w, r, req, ref)
	}
	target, herr := resolveTarget(pod, req)
	if herr != nil {
		return herr
	}
	switch {
	case protocol.IsWebSocketUpgrade(r):
		n.logSession(r, verb, "websocket")
		n.serveWebSocket(ctx, w, r, req, target)
	case protocol.IsSPDYUpgrade(r):
		n.logSession(r, verb, "spdy")
		n.serveSPDY(ctx, w, r, req, target)
	default:
		return badRequest("Upgrade request required")
	}
	return nil
}

// checkMethod refuses what the API server refuses on a streaming
// subresource: any method but GET and POST.
func checkMethod(r *http.Request) *status.HTTPError {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return &status.HTTPError{Status: status.NewHTTP(http.StatusMethodNotAllowed, status.ReasonMethodNotAllowed,
			"the server does not allow this method on the requested resource", nil)}
	}
	return nil
}

// lookupPod is the pod req names, or the refusal the API server answers.
func (n *Node) lookupPod(r *http.Request, req *request) (*kube.Pod, *status.HTTPError) {
	pod, err := n.rt.Pod(r.Context(), req.namespace, req.pod)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("pods", req.pod)
	}
	if err != nil {
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusInternalServerError, status.ReasonInternalError,
			"Internal error occurred: "+err.Error(), nil), Cause: err}
	}
	return pod, nil
}

// resolveTarget is the container an exec or attach of req runs in (its
// name filled in when the request left it out), or the refusal.
func resolveTarget(pod *kube.Pod, req *request) (Container, *status.HTTPError) {
	var herr *status.HTTPError
	if req.container, herr = resolveContainer(pod, req.container); herr != nil {
		return Container{}, herr
	}
	if p := pod.Status.Phase; p == "Succeeded" || p == "Failed" {
		return Container{}, badRequest("cannot %s into a container in a completed pod; current phase is %s", req.verb, p)
	}
	return Container{PodRef: PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}, Name: req.container}, nil
}

// servePortForward picks the port-forward wire: SPDY, or a WebSocket that
// either tunnels SPDY (SPDY/3.1+portforward.k8s.io) or speaks the legacy
// channel protocol with ports fixed by the query.
func (n *Node) servePortForward(ctx context.Context, w http.ResponseWriter, r *http.Request, req *request, pod PodRef) *status.HTTPError {
	switch {
	case protocol.IsSPDYUpgrade(r):
		n.logSession(r, "portforward", "spdy")
		n.servePortForwardSPDY(ctx, w, r, pod)
	case protocol.IsWebSocketUpgrade(r):
		n.logSession(r, "portforward", "websocket")
		return n.servePortForwardWebSocket(ctx, w, r, req, pod)
	default:
		return badRequest("Upgrade request required")
	}
	return nil
}

// logSession notes a session's start and wire (info level): which wire an
// API server in front chose is otherwise invisible.
func (n *Node) logSession(r *http.Request, verb, wire string) {
	n.log.Info("session", "verb", verb, "wire", wire, "path", r.URL.Path, "user-agent", r.UserAgent())
}
