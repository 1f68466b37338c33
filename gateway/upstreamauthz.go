package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/porthole/porthole/protocol/status"
)

// upstreamAccessTimeout bounds the access review asked of the upstream.
const upstreamAccessTimeout = 10 * time.Second

// checkUpstreamCreate asks the upstream API server, as the impersonated
// caller, whether it may create the session's subresource, and refuses
// in the API server's words if not. It runs where the gateway turns the
// client's POST (SPDY) into a WebSocket GET upstream: a 1.35+ API server
// authorizes that GET as get first, so its refusal would name get where
// the client, asking the API server directly, reads create.
func (g *Gateway) checkUpstreamCreate(ctx context.Context, r *http.Request, s *session) *status.HTTPError {
	a := Attributes{User: s.user, Verb: "create", Namespace: s.namespace, Resource: "pods", Subresource: s.verb, Name: s.pod}
	allowed, reason, answered := g.upstreamAllows(r.WithContext(ctx), a)
	if !answered || allowed {
		// An upstream that cannot review (an old server, a node) is left to
		// answer the session itself.
		return nil
	}
	return forbidden(a, reason, nil)
}

// upstreamAllows asks the upstream, as a.User, whether it may do a.
// answered is false when the upstream cannot review.
func (g *Gateway) upstreamAllows(r *http.Request, a Attributes) (allowed bool, reason string, answered bool) {
	review := map[string]any{
		"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
		"spec": map[string]any{"resourceAttributes": map[string]string{
			"namespace": a.Namespace, "verb": a.Verb, "group": a.APIGroup, "resource": a.Resource, "subresource": a.Subresource, "name": a.Name,
		}},
	}
	body, err := json.Marshal(review)
	if err != nil {
		return false, "", false
	}
	b, ok := g.upstreamReview(r.Context(), r, a.User, kindAccess, body)
	if !ok {
		return false, "", false
	}
	var out struct {
		Status struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		g.log.Debug("upstream access review unreadable", "err", err)
		return false, "", false
	}
	return out.Status.Allowed, out.Status.Reason, true
}
