package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/porthole/porthole/protocol"
)

// Sessions of porthole's gateway (protocol.SessionsPath): its live exec
// and attach sessions, which an authorized user lists, watches (output
// only, from a recent snapshot on) or joins (keystrokes too), and which a
// moderator ends. Other servers answer 404.

// ListSessions lists the live sessions in namespace ns ("": all namespaces,
// which needs the verb list on sessions at the cluster scope).
func (c *Client) ListSessions(ctx context.Context, ns string) ([]protocol.SessionInfo, error) {
	path := protocol.SessionsPath + "/sessions"
	if ns != "" {
		path = protocol.SessionsPath + "/namespaces/" + url.PathEscape(ns) + "/sessions"
	}
	var l protocol.SessionList
	if err := c.Do(ctx, http.MethodGet, path, "", nil, &l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// WatchSessionOptions name the session to watch or join, and the local ends.
type WatchSessionOptions struct {
	Namespace, ID string
	// Join sends Stdin's bytes into the session (keystrokes); without it
	// Stdin is not read.
	Join bool
	// Stdin (Join only) and Stdout, the owner's terminal output as the
	// session's tty wrote it.
	Stdin  io.Reader
	Stdout io.Writer
}

// WatchSession shows a session's output from the gateway's snapshot on
// until it ends: nil, or *ExitError with its exit code, when it ended;
// *status.Error when the gateway dropped the watcher; errors as Exec's
// otherwise. The session's size is its owner's: sizes are not sent.
func (c *Client) WatchSession(ctx context.Context, o *WatchSessionOptions) error {
	if o == nil || o.Namespace == "" || o.ID == "" || o.Stdout == nil {
		return errors.New("watch session: namespace, id and stdout are required")
	}
	what := "watch"
	so := StreamOptions{Stdout: o.Stdout, TTY: true, Wire: WireWebSocket}
	if o.Join {
		what, so.Stdin = "join", o.Stdin
	}
	path := protocol.SessionsPath + "/namespaces/" + url.PathEscape(o.Namespace) + "/sessions/" + url.PathEscape(o.ID) + "/" + what
	return c.session(ctx, c.url(path, nil), &so)
}

// EndSession ends a session, as its moderator (the verb moderate on sessions).
func (c *Client) EndSession(ctx context.Context, ns, id string) error {
	return c.Do(ctx, http.MethodDelete, protocol.SessionsPath+"/namespaces/"+url.PathEscape(ns)+"/sessions/"+url.PathEscape(id), "", nil, nil)
}
