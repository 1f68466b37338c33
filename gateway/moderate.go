package gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// Moderated sessions: an exec or attach into a namespace listed in
// Options.ModeratedNamespaces has its stdin held, and its owner told so,
// until a moderator joins it: a user RBAC allows the verb "moderate" on
// the resource "sessions" (SessionsGroup) in that namespace. The session is
// always bridged, so the gateway holds the input itself; the moderator may
// end it (DELETE on the session). Output flows meanwhile, so the owner and
// any watcher see the prompt; nothing typed reaches the process unseen.

// moderatedNamespace reports whether sessions into ns need a moderator.
func (g *Gateway) moderatedNamespace(ns string) bool {
	return slices.Contains(g.opts.ModeratedNamespaces, ns) || slices.Contains(g.opts.ModeratedNamespaces, "*")
}

// moderationAdmits refuses a moderated session the gateway could not
// moderate: one without stdin runs its command with nothing to hold, and
// one on a wire the bridge does not serve would pass through unread.
func moderationAdmits(r *http.Request, s *session) *status.HTTPError {
	if !s.moderated {
		return nil
	}
	if !s.stdin {
		return status.NewHTTPError(http.StatusForbidden, "Forbidden",
			"sessions in namespace \""+s.namespace+"\" are moderated: run the command interactively (stdin), so that it waits for a moderator", nil)
	}
	if !canBridge(r, s) {
		return status.NewHTTPError(http.StatusBadRequest, "BadRequest",
			"sessions in namespace \""+s.namespace+"\" are moderated: the gateway moderates SPDY and WebSocket sessions of a remote-command version ("+strings.Join(protocol.Names(protocol.WebSocketVersions), ", ")+") only", nil)
	}
	return nil
}
