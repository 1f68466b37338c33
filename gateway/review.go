package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/status"
)

// The self reviews a caller asks of the API server about itself, which the
// gateway answers because it authenticates and authorizes its callers:
// kubectl auth whoami (SelfSubjectReview), kubectl auth can-i
// (SelfSubjectAccessReview) and kubectl auth can-i --list
// (SelfSubjectRulesReview). Every authenticated caller may ask them, as
// the API server's system:basic-user role allows; an anonymous one (see
// Options.AllowAnonymous) when RBAC allows it to create them.
const (
	kindWhoAmI = "selfsubjectreviews"
	kindAccess = "selfsubjectaccessreviews"
	kindRules  = "selfsubjectrulesreviews"
)

// maxReviewBody bounds a review's body (a few hundred bytes from kubectl).
const maxReviewBody = 64 << 10

// selfReview names the review req creates ("" for none).
func (req apiRequest) selfReview() string {
	if !req.resource || req.namespace != "" || req.name != "" || req.subresource != "" {
		return ""
	}
	switch {
	case req.group == "authentication.k8s.io" && req.kind == kindWhoAmI &&
		(req.version == "v1" || req.version == "v1beta1" || req.version == "v1alpha1"):
		return kindWhoAmI
	case req.group == "authorization.k8s.io" && req.version == "v1" && (req.kind == kindAccess || req.kind == kindRules):
		return req.kind
	}
	return ""
}

// discoveryURLs are the non-resource paths any authenticated caller may
// get, as the API server's system:discovery and system:public-info-viewer
// roles allow ("/x/*" covers what is below /x).
var discoveryURLs = []string{"/api", "/api/*", "/apis", "/apis/*", "/version", "/version/", "/healthz", "/livez", "/readyz"}

// selfReviewRules are the rules every authenticated caller holds here.
var selfReviewRules = []kube.ResourceRule{
	{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{kindAccess, kindRules}},
	{Verbs: []string{"create"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{kindWhoAmI}},
}

// reviewObject is a review as the API server answers it.
type reviewObject struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   map[string]any `json:"metadata"`
	Spec       any            `json:"spec,omitempty"`
	Status     any            `json:"status"`
}

// serveSelfReview answers a POST of the review req names.
func (g *Gateway) serveSelfReview(w http.ResponseWriter, r *http.Request, req apiRequest, kind string) {
	u := userFrom(r.Context())
	if !slices.Contains(u.Groups, GroupAuthenticated) {
		// system:basic-user grants the reviews to authenticated callers
		// only; an anonymous one needs RBAC to say so.
		a := Attributes{User: u, Verb: "create", APIGroup: req.group, Resource: kind}
		if herr := g.authorize(r.Context(), a); herr != nil {
			g.refuse(w, r, nil, herr)
			return
		}
	}
	body, herr := readReview(w, r)
	if herr != nil {
		g.refuse(w, r, nil, herr)
		return
	}
	var in struct {
		Kind       string          `json:"kind"`
		APIVersion string          `json:"apiVersion"`
		Spec       json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		g.refuse(w, r, nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "the review's body is not a JSON object: "+err.Error(), nil))
		return
	}
	want := kindName(kind)
	gv := req.group + "/" + req.version
	if in.Kind != "" && in.Kind != want || in.APIVersion != "" && in.APIVersion != gv {
		g.refuse(w, r, nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("the body is %s %s, not the %s %s its path names", in.APIVersion, in.Kind, gv, want), nil))
		return
	}
	out := reviewObject{Kind: want, APIVersion: gv, Metadata: map[string]any{"creationTimestamp": nil}}
	switch kind {
	case kindWhoAmI:
		groups := u.Groups
		if groups == nil {
			groups = []string{}
		}
		out.Status = map[string]any{"userInfo": kube.UserInfo{Username: u.Name, UID: u.UID, Groups: groups}}
	case kindAccess:
		var spec kube.SelfSubjectAccessReviewSpec
		if len(in.Spec) > 0 {
			if err := json.Unmarshal(in.Spec, &spec); err != nil {
				g.refuse(w, r, nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "spec: "+err.Error(), nil))
				return
			}
		}
		if (spec.ResourceAttributes == nil) == (spec.NonResourceAttributes == nil) {
			g.refuse(w, r, nil, status.NewHTTPError(http.StatusUnprocessableEntity, "Invalid",
				`SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified`, nil))
			return
		}
		st, final := g.accessReview(r, u, spec)
		if !final {
			// The upstream authorizes too: its answer is the whole answer.
			// One that cannot review leaves the gateway's; one that fails
			// leaves no yes.
			b, outcome, err := g.upstreamReview(r.Context(), u, kind, body)
			switch outcome {
			case reviewAnswered:
				writeReview(w, b)
				return
			case reviewFailed:
				st = kube.SubjectAccessReviewStatus{EvaluationError: err.Error()}
			}
		}
		out.Spec, out.Status = spec, st
	case kindRules:
		var spec kube.SelfSubjectRulesReviewSpec
		if len(in.Spec) > 0 {
			if err := json.Unmarshal(in.Spec, &spec); err != nil {
				g.refuse(w, r, nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "spec: "+err.Error(), nil))
				return
			}
		}
		if spec.Namespace == "" {
			g.refuse(w, r, nil, status.NewHTTPError(http.StatusUnprocessableEntity, "Invalid",
				`SelfSubjectRulesReview.authorization.k8s.io "" is invalid: spec.namespace: Required value`, nil))
			return
		}
		out.Spec = spec
		if g.unrestricted(u) {
			// The gateway allows everything: what the upstream allows is
			// the whole answer, when it has one.
			b, outcome, err := g.upstreamReview(r.Context(), u, kind, body)
			if outcome == reviewAnswered {
				writeReview(w, b)
				return
			}
			st := g.rulesReview(r.Context(), u, spec.Namespace, body)
			if outcome == reviewFailed {
				st.Incomplete, st.EvaluationError = true, err.Error()
			}
			out.Status = st
		} else {
			out.Status = g.rulesReview(r.Context(), u, spec.Namespace, body)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		g.refuse(w, r, nil, status.NewHTTPError(http.StatusInternalServerError, "InternalError", err.Error(), err))
		return
	}
	writeReview(w, b)
}

// accessReview is the gateway's own decision. Unless it is final, the
// gateway allows and the upstream is asked too: its answer, when it can
// give one, is the whole answer (every request passes both).
func (g *Gateway) accessReview(r *http.Request, u *User, spec kube.SelfSubjectAccessReviewSpec) (st kube.SubjectAccessReviewStatus, final bool) {
	if nr := spec.NonResourceAttributes; nr != nil {
		if !g.unrestricted(u) && (nr.Verb != "get" || !pathMatches(discoveryURLs, nr.Path)) {
			return kube.SubjectAccessReviewStatus{Reason: "the gateway serves no other non-resource URL than discovery, version and health"}, true
		}
		return kube.SubjectAccessReviewStatus{Allowed: true}, false
	}
	ra := spec.ResourceAttributes
	a := Attributes{User: u, Verb: ra.Verb, APIGroup: ra.Group, Namespace: ra.Namespace,
		Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name}
	if g.unrestricted(u) {
		return kube.SubjectAccessReviewStatus{Allowed: true}, false
	}
	allowed, err := g.opts.Authorizer.Authorize(r.Context(), a)
	if err != nil {
		return kube.SubjectAccessReviewStatus{EvaluationError: err.Error()}, true
	}
	return kube.SubjectAccessReviewStatus{Allowed: allowed}, !allowed
}

// rulesReview lists the gateway's rules for u in namespace. They are
// incomplete when the upstream authorizes each request too (it answers a
// rules review, or fails to).
func (g *Gateway) rulesReview(ctx context.Context, u *User, namespace string, body []byte) kube.SubjectRulesReviewStatus {
	st := kube.SubjectRulesReviewStatus{ResourceRules: append([]kube.ResourceRule(nil), selfReviewRules...),
		NonResourceRules: []kube.NonResourceRule{{Verbs: []string{"get"}, NonResourceURLs: discoveryURLs}}}
	if g.unrestricted(u) {
		st.ResourceRules = append(st.ResourceRules, kube.ResourceRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}})
		st.NonResourceRules = append(st.NonResourceRules, kube.NonResourceRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}})
		return st
	}
	l, ok := g.opts.Authorizer.(RuleLister)
	if !ok {
		st.Incomplete, st.EvaluationError = true, "the gateway's authorizer cannot list rules"
		return st
	}
	st.ResourceRules = append(st.ResourceRules, l.RulesFor(u, namespace)...)
	switch _, outcome, err := g.upstreamReview(ctx, u, kindRules, body); outcome {
	case reviewAnswered:
		st.Incomplete = true
		st.EvaluationError = "the upstream API server authorizes each request too; these are the gateway's rules only"
	case reviewFailed:
		st.Incomplete, st.EvaluationError = true, err.Error()
	}
	return st
}

// pathMatches reports whether path is one of urls, "/x/*" covering what
// lies below /x, as RBAC's nonResourceURLs match.
func pathMatches(urls []string, path string) bool {
	for _, u := range urls {
		if u == path || strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimSuffix(u, "*")) {
			return true
		}
	}
	return false
}

// kindName is the Kind of a review's resource.
func kindName(kind string) string {
	switch kind {
	case kindWhoAmI:
		return "SelfSubjectReview"
	case kindAccess:
		return "SelfSubjectAccessReview"
	default:
		return "SelfSubjectRulesReview"
	}
}

// readReview reads a review's body, bounded: JSON, or protobuf (kubectl
// 1.32 and later) turned into the same JSON. The answer is JSON, which
// every kubectl accepts.
func readReview(w http.ResponseWriter, r *http.Request) ([]byte, *status.HTTPError) {
	if !acceptsJSON(r.Header.Values("Accept")) {
		return nil, status.NewHTTPError(http.StatusNotAcceptable, "NotAcceptable",
			"the gateway answers reviews in application/json only", nil)
	}
	proto := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && mt == protobufType:
			proto = true
		case err != nil || mt != "application/json":
			return nil, status.NewHTTPError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
				fmt.Sprintf("the body of a review must be application/json or %s, not %q", protobufType, ct), nil)
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReviewBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, status.NewHTTPError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("the request body is larger than %d bytes", maxReviewBody), nil)
	case err != nil:
		return nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "reading the body: "+err.Error(), err)
	}
	if proto {
		if b, err = reviewFromProto(b); err != nil {
			return nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "the review's protobuf body: "+err.Error(), nil)
		}
	}
	return b, nil
}

// acceptsJSON reports whether an Accept header (absent: anything) admits
// application/json.
func acceptsJSON(accept []string) bool {
	if len(accept) == 0 {
		return true
	}
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && (mt == "application/json" || mt == "application/*" || mt == "*/*") {
				return true
			}
		}
	}
	return false
}

func writeReview(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(b)
}
