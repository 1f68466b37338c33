package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
// the client, asking the API server directly, reads create. An upstream
// that cannot review (an old server, a node), or does not answer, is left
// to answer the session itself.
func (g *Gateway) checkUpstreamCreate(ctx context.Context, s *session) *status.HTTPError {
	a := Attributes{User: s.user, Verb: "create", Namespace: s.namespace, Resource: "pods", Subresource: s.verb, Name: s.pod}
	allowed, reason, outcome, _ := g.upstreamAllows(ctx, a)
	if outcome != reviewAnswered || allowed {
		return nil
	}
	return forbidden(a, reason, nil)
}

// upstreamAllows asks the upstream, as a.User, whether it may do a.
func (g *Gateway) upstreamAllows(ctx context.Context, a Attributes) (allowed bool, reason string, outcome reviewOutcome, err error) {
	body, err := json.Marshal(map[string]any{
		"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
		"spec": map[string]any{"resourceAttributes": map[string]string{
			"namespace": a.Namespace, "verb": a.Verb, "group": a.APIGroup, "resource": a.Resource, "subresource": a.Subresource, "name": a.Name,
		}},
	})
	if err != nil {
		return false, "", reviewFailed, err
	}
	b, outcome, err := g.upstreamReview(ctx, a.User, kindAccess, body)
	if outcome != reviewAnswered {
		return false, "", outcome, err
	}
	var out struct {
		Status struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return false, "", reviewFailed, fmt.Errorf("the upstream API server's access review: %w", err)
	}
	return out.Status.Allowed, out.Status.Reason, reviewAnswered, nil
}

// reviewOutcome is what asking the upstream for a review came to.
type reviewOutcome int

const (
	// reviewCannot: the upstream does not review (a node, serve's
	// in-process API, an older server): it refused the request (4xx).
	reviewCannot reviewOutcome = iota
	// reviewAnswered: the upstream's review is the answer.
	reviewAnswered
	// reviewFailed: no answer (unreachable, timed out, 5xx, unreadable),
	// so nothing can be said of what the upstream allows.
	reviewFailed
)

// upstreamReview posts a review to the upstream as u, a request of the
// gateway's own (its credentials, impersonating u when configured, none of
// the client's headers), and returns the answer.
func (g *Gateway) upstreamReview(ctx context.Context, u *User, kind string, body []byte) ([]byte, reviewOutcome, error) {
	ctx, cancel := context.WithTimeout(ctx, upstreamAccessTimeout)
	defer cancel()
	group := "authorization.k8s.io"
	if kind == kindWhoAmI {
		group = "authentication.k8s.io"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.upstreamURL("/apis/"+group+"/v1/"+kind, "").String(), bytes.NewReader(body))
	if err != nil {
		return nil, reviewFailed, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	g.upstreamIdentity(req.Header, u)
	resp, err := g.transport.RoundTrip(req)
	if err != nil {
		return nil, reviewFailed, fmt.Errorf("the upstream API server did not answer the review: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		g.log.Debug("upstream cannot review", "kind", kind, "status", resp.Status)
		return nil, reviewCannot, nil
	case err != nil:
		return nil, reviewFailed, fmt.Errorf("the upstream API server's review: %w", err)
	case resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK:
		return nil, reviewFailed, fmt.Errorf("the upstream API server answered the review with %s", resp.Status)
	}
	var out struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(b, &out) != nil || out.Kind != kindName(kind) {
		return nil, reviewFailed, fmt.Errorf("the upstream API server's answer to the review is not a %s", kindName(kind))
	}
	return b, reviewAnswered, nil
}
