package client

import (
	"context"
	"errors"
	"io"
	"net/url"

	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/protocol/status"
)

// ExitError is a remote command that exited with a non-zero code; the
// CLI's exit-code mapping recognises it through its ExitCode method.
type ExitError = status.ExitError

// ErrNoStatus reports a session that ended before the server sent a status:
// the connection broke (the error also wraps its *stream.ConnError), or, on
// v4 and v5, the error stream ended empty. The command's outcome is unknown.
var ErrNoStatus = errors.New("session ended without a status")

// StreamOptions are the standard streams and terminal of a session. Stdin,
// Stdout and Stderr that are nil are not requested from the server.
type StreamOptions struct {
	// Stdin is copied to the remote process; its EOF half-closes the remote
	// stdin (v5 close signal, SPDY FIN). A Read still blocked when the
	// session ends is interrupted through SetReadDeadline when Stdin has one
	// (*os.File on a pollable descriptor, net.Conn); otherwise the copy is
	// left to end at its next Read, whose bytes are dropped.
	Stdin io.Reader
	// Stdout and Stderr receive the remote output; every byte is written
	// before Exec or Attach returns. With TTY, stderr is merged into stdout
	// by the remote terminal and Stderr is not requested.
	Stdout, Stderr io.Writer
	// TTY asks for a remote pseudo-terminal.
	TTY bool
	// Sizes delivers terminal sizes (TTY only). A size already waiting when
	// the session starts is sent before any output is read; later ones
	// are sent as they come, until the channel is closed or the session
	// ends. Use a buffered channel and put the initial size in it.
	Sizes <-chan resize.Size
	// Wire overrides Config.Wire for this session.
	Wire Wire
	// Resume, when set, asks for a session that resumes after a cut
	// connection, where the server is porthole's gateway (WebSocket only).
	Resume *ResumeOptions
}

// ExecOptions describe one command to run in a container.
type ExecOptions struct {
	Namespace, Pod, Container string
	Command                   []string
	StreamOptions
	// URL, when set, is the session's full URL (a kubelet's
	// /exec/NS/POD/CONTAINER?command=...&output=1, or a one-time CRI
	// streaming URL): the fields above but the streams are then ignored.
	URL string
}

// AttachOptions describe an attach to a container's running process.
type AttachOptions struct {
	Namespace, Pod, Container string
	StreamOptions
	// URL, as in ExecOptions.
	URL string
}

// Exec runs a command in a container and returns when it has ended and all
// its output has been written: nil for exit code 0, *ExitError for another
// exit code, *status.Error for a failure the server reported,
// *UpgradeError when the server refused the session, ErrNoStatus (with the
// *stream.ConnError) when the connection broke first, or ctx's error.
func (c *Client) Exec(ctx context.Context, opts *ExecOptions) error {
	if opts == nil || (opts.URL == "" && (opts.Pod == "" || len(opts.Command) == 0)) {
		return errors.New("exec: pod and command are required")
	}
	u := opts.URL
	if u == "" {
		q := streamQuery(opts.Container, &opts.StreamOptions)
		for _, a := range opts.Command {
			q.Add("command", a)
		}
		u = c.url(podPath(opts.Namespace, opts.Pod, "exec"), q)
	}
	// Not wrapped: the session's errors already say what failed, and the
	// CLI prints them as kubectl does ("unable to upgrade connection: ...").
	return c.session(ctx, u, &opts.StreamOptions)
}

// Attach joins the standard streams of a container's main process and
// returns when the server ends the session (the process exited, or stdin
// ended on a container with stdinOnce); errors as Exec's, but attach never
// reports an exit code.
func (c *Client) Attach(ctx context.Context, opts *AttachOptions) error {
	if opts == nil || (opts.URL == "" && opts.Pod == "") {
		return errors.New("attach: pod is required")
	}
	u := opts.URL
	if u == "" {
		u = c.url(podPath(opts.Namespace, opts.Pod, "attach"), streamQuery(opts.Container, &opts.StreamOptions))
	}
	return c.session(ctx, u, &opts.StreamOptions)
}

// podPath is the API server path of a pod subresource.
func podPath(ns, pod, sub string) string {
	if ns == "" {
		ns = "default"
	}
	return "/api/v1/namespaces/" + url.PathEscape(ns) + "/pods/" + url.PathEscape(pod) + "/" + sub
}

// streamQuery is the PodExecOptions/PodAttachOptions query, in kubectl's
// parameter order.
func streamQuery(container string, o *StreamOptions) url.Values {
	q := url.Values{}
	if container != "" {
		q.Set("container", container)
	}
	if o.Stdin != nil {
		q.Set("stdin", "true")
	}
	if o.Stdout != nil {
		q.Set("stdout", "true")
	}
	if o.Stderr != nil && !o.TTY {
		q.Set("stderr", "true")
	}
	if o.TTY {
		q.Set("tty", "true")
	}
	return q
}
