package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/porthole/porthole/protocol/status"
)

// The headers a caller impersonates with (kubectl --as, --as-group,
// --as-uid), as the API server reads them.
const (
	headerImpersonateUser  = "Impersonate-User"
	headerImpersonateGroup = "Impersonate-Group"
	headerImpersonateUID   = "Impersonate-Uid"
	prefixImpersonateExtra = "Impersonate-Extra-"
	serviceAccountPrefix   = "system:serviceaccount:"
	// maxImpersonatedGroups bounds the groups one request impersonates.
	maxImpersonatedGroups = 64
)

// impersonationTimeout bounds all of one request's impersonation checks
// together (a variable for tests).
var impersonationTimeout = upstreamAccessTimeout

// impersonate applies r's Impersonate-* headers to caller, as the API
// server's impersonation filter does: the caller must be allowed to
// impersonate (verb impersonate) the user or service account, each group
// and the uid; the request then runs as the user they name, with
// system:authenticated added. No headers: caller itself. User extras are
// refused: the gateway's users carry none.
//
// Who may impersonate: the privileged group; with an Authorizer, whom it
// allows; without one, whom the upstream allows when asked as the caller,
// and nobody when it cannot answer. A gateway without RBAC lets every
// caller do everything it serves, but the upstream trusts the users the
// gateway names (--impersonate): letting any caller name any user there
// would hand out the gateway's own impersonation rights.
func (g *Gateway) impersonate(r *http.Request, caller *User) (*User, *status.HTTPError) {
	h := r.Header
	name := h.Get(headerImpersonateUser)
	groups := h.Values(headerImpersonateGroup)
	uid := h.Get(headerImpersonateUID)
	extras := false
	for k := range h { // canonical: net/http's server spells every key so
		if strings.HasPrefix(k, prefixImpersonateExtra) {
			extras = true
		}
	}
	if name == "" && len(groups) == 0 && uid == "" && !extras {
		return caller, nil
	}
	if name == "" {
		return nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "requested impersonation of groups, a uid or extras without impersonating a user", nil)
	}
	if extras {
		return nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "the gateway does not impersonate user extras (Impersonate-Extra-*)", nil)
	}
	if len(groups) > maxImpersonatedGroups {
		// Each is a check, and without RBAC a review asked upstream.
		return nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("%d impersonated groups: the gateway takes at most %d", len(groups), maxImpersonatedGroups), nil)
	}
	var checks []Attributes
	u := &User{Name: name, UID: uid, ImpersonatedBy: caller.Name}
	if ns, sa, ok := splitServiceAccount(name); ok {
		checks = append(checks, Attributes{Resource: "serviceaccounts", Namespace: ns, Name: sa})
		if len(groups) == 0 {
			u.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}
		}
	} else {
		checks = append(checks, Attributes{Resource: "users", Name: name})
	}
	for _, grp := range groups {
		checks = append(checks, Attributes{Resource: "groups", Name: grp})
		u.Groups = append(u.Groups, grp)
	}
	if uid != "" {
		checks = append(checks, Attributes{APIGroup: "authentication.k8s.io", Resource: "uids", Name: uid})
	}
	// One budget for all the checks: without RBAC each is a review asked
	// upstream, and 66 of them at upstreamAccessTimeout each would hold the
	// request for eleven minutes.
	ctx, cancel := context.WithTimeout(r.Context(), impersonationTimeout)
	defer cancel()
	for _, a := range checks {
		a.User, a.Verb = caller, "impersonate"
		if herr := g.mayImpersonate(ctx, a); herr != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, forbidden(a, fmt.Sprintf("the checks of this impersonation took longer than %v", impersonationTimeout), nil)
			}
			return nil, herr
		}
	}
	switch {
	case name == Anonymous:
		if !slices.Contains(u.Groups, GroupUnauthenticated) {
			u.Groups = append(u.Groups, GroupUnauthenticated)
		}
	case !slices.Contains(u.Groups, GroupAuthenticated) && !slices.Contains(u.Groups, GroupUnauthenticated):
		u.Groups = append(u.Groups, GroupAuthenticated)
	}
	return u, nil
}

// mayImpersonate decides one impersonation check (see impersonate).
func (g *Gateway) mayImpersonate(ctx context.Context, a Attributes) *status.HTTPError {
	if g.opts.Authorizer != nil || privileged(a.User) {
		return g.authorize(ctx, a)
	}
	allowed, reason, outcome, err := g.upstreamAllows(ctx, a)
	switch {
	case outcome == reviewFailed:
		return forbidden(a, "without --rbac-file, impersonation is what the upstream allows: "+err.Error(), nil)
	case outcome == reviewCannot:
		return forbidden(a, "without --rbac-file, impersonation is what the upstream allows, and it cannot say", nil)
	case !allowed:
		return forbidden(a, reason, nil)
	}
	return nil
}

// splitServiceAccount splits "system:serviceaccount:NS:NAME".
func splitServiceAccount(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, serviceAccountPrefix)
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return ns, name, true
}
