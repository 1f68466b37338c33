package node

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/stream/pipe"
)

// ServeSession starts the exec or attach that r asks for (the API server's
// path, /api/v1/namespaces/NS/pods/POD/exec or attach, and its query) on
// the server's side of an in-process session (stream/pipe), and returns
// the client's side. A gateway in this process that bridges sessions (a
// resumable one, a joinable one) uses it instead of dialling the node over
// a socket: every byte would otherwise be framed, written, read and parsed
// once more. A request the node refuses returns the *status.HTTPError it
// would answer; the session is tracked like a connection, so Shutdown ends
// it as it ends the others.
func (n *Node) ServeSession(r *http.Request) (*stream.Session, error) {
	if herr := checkMethod(r); herr != nil {
		return nil, herr
	}
	// Segments of the escaped path, unescaped one by one, as the node's
	// ServeMux matches its patterns: an encoded slash stays in its name.
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(parts) != 7 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" || parts[4] != "pods" ||
		(parts[6] != "exec" && parts[6] != "attach") {
		return nil, notFound("paths", r.URL.Path)
	}
	namespace, err1 := url.PathUnescape(parts[3])
	pod, err2 := url.PathUnescape(parts[5])
	if err1 != nil || err2 != nil {
		return nil, notFound("paths", r.URL.Path)
	}
	verb := parts[6]
	pr := r.Clone(r.Context())
	pr.SetPathValue("namespace", namespace)
	pr.SetPathValue("pod", pod)
	req, herr := parseRequest(pr, verb)
	if herr != nil {
		return nil, herr
	}
	p, herr := n.lookupPod(pr, req)
	if herr != nil {
		return nil, herr
	}
	target, herr := resolveTarget(p, req)
	if herr != nil {
		return nil, herr
	}
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	client, server := pipe.Session(v5, req.want())
	if !n.track(server.Conn) {
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusServiceUnavailable, "ServiceUnavailable",
			"the server is shutting down", nil)}
	}
	n.logSession(r, verb, "in-process")
	ctx := context.WithoutCancel(r.Context())
	s := &session{n: n, req: req, target: target, Session: server}
	go func() {
		defer n.untrack(server.Conn)
		s.run(ctx)
	}()
	return client, nil
}
