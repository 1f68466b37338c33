package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/status"
)

// Attributes describe one authorization check, as the API server's
// authorizer sees it.
type Attributes struct {
	User        *User
	Verb        string // get, list, watch, create
	APIGroup    string // "" for the core group
	Namespace   string
	Resource    string // "pods"
	Subresource string // "exec", "attach", "portforward" or ""
	Name        string
}

// Authorizer decides whether a caller may do something. The gateway is its
// consumer; RBAC implements it.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (allowed bool, err error)
}

// RuleLister is an Authorizer that can list what it allows a caller, for
// the rules review (kubectl auth can-i --list).
type RuleLister interface {
	RulesFor(u *User, namespace string) []kube.ResourceRule
}

// resourceString is "pods/exec" or "pods".
func (a Attributes) resourceString() string {
	if a.Subresource != "" {
		return a.Resource + "/" + a.Subresource
	}
	return a.Resource
}

// PrivilegedGroup is the API server's superuser group. Its members may do
// everything whatever the Authorizer says: kube-apiserver puts an
// authorizer for it ahead of every mode, so a cluster's admin credentials
// (a kubeadm admin.conf, serve's own token) keep working when an RBAC file
// does not mention them.
const PrivilegedGroup = "system:masters"

// privileged reports whether u is in PrivilegedGroup.
func privileged(u *User) bool { return u != nil && slices.Contains(u.Groups, PrivilegedGroup) }

// unrestricted reports whether the gateway lets u do everything: no
// Authorizer, or the privileged group.
func (g *Gateway) unrestricted(u *User) bool { return g.opts.Authorizer == nil || privileged(u) }

// authorize checks a against the configured Authorizer (none: allowed),
// after the privileged group. The denial's message is the API server's,
// naming the missing permission.
func (g *Gateway) authorize(ctx context.Context, a Attributes) *status.HTTPError {
	if g.unrestricted(a.User) {
		return nil
	}
	ok, err := g.opts.Authorizer.Authorize(ctx, a)
	if err == nil && ok {
		return nil
	}
	return forbidden(a, "", err)
}

// forbidden is the API server's refusal of a, in its words (its
// responsewriters.Forbidden), with the authorizer's reason when there is one.
func forbidden(a Attributes, reason string, err error) *status.HTTPError {
	target := fmt.Sprintf("%s %q", a.Resource, a.Name)
	if a.Name == "" {
		target = a.Resource
	}
	msg := fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group %q in the namespace %q",
		target, a.User.Name, a.Verb, a.resourceString(), a.APIGroup, a.Namespace)
	if a.Namespace == "" {
		msg = fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group %q at the cluster scope",
			target, a.User.Name, a.Verb, a.resourceString(), a.APIGroup)
	}
	if reason != "" {
		msg += ": " + reason
	}
	return status.NewHTTPError(http.StatusForbidden, "Forbidden", msg, err)
}
