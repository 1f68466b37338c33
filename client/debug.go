package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/status"
)

// StrategicMergePatch is the content type of Kubernetes' strategic merge
// patch, whose lists of containers merge by name.
const StrategicMergePatch = "application/strategic-merge-patch+json"

// ErrNoEphemeral is an API server that does not serve pods'
// ephemeralcontainers subresource (the feature off, or an old server).
var ErrNoEphemeral = errors.New("ephemeral containers are disabled for this cluster")

// AddEphemeralContainer adds ec to a running pod through its
// ephemeralcontainers subresource, as kubectl debug does (a strategic
// merge patch, so the pod's other ephemeral containers stay), and returns
// the pod the server answers. The server refuses a name the pod has.
func (c *Client) AddEphemeralContainer(ctx context.Context, namespace, pod string, ec kube.EphemeralContainer) (*kube.Pod, error) {
	patch := map[string]any{"spec": map[string]any{"ephemeralContainers": []kube.EphemeralContainer{ec}}}
	var out kube.Pod
	path := "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods/" + url.PathEscape(pod) + "/ephemeralcontainers"
	err := c.Do(ctx, http.MethodPatch, path, StrategicMergePatch, patch, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && ae.Message == "the server could not find the requested resource" {
		// Not the pod's 404, which names it: the path's.
		return nil, fmt.Errorf("%w (error from server: %q)", ErrNoEphemeral, ae.Message)
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// LogOptions say which log ContainerLog reads and how.
type LogOptions struct {
	Namespace, Pod, Container string
	// Follow streams the log as it grows, until the container's run ends
	// (or ctx does), as kubectl logs -f.
	Follow bool
}

// ContainerLog copies a container's log to w, as kubectl logs does.
func (c *Client) ContainerLog(ctx context.Context, o LogOptions, w io.Writer) error {
	_, err := onceMoreIfUnauthorized(ctx, c, func() (struct{}, error) { return struct{}{}, c.containerLog(ctx, o, w) })
	return err
}

func (c *Client) containerLog(ctx context.Context, o LogOptions, w io.Writer) error {
	q := url.Values{"container": {o.Container}}
	if o.Follow {
		q.Set("follow", "true")
	}
	u := c.url("/api/v1/namespaces/"+url.PathEscape(o.Namespace)+"/pods/"+url.PathEscape(o.Pod)+"/log", q)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if req.Header, err = c.header(ctx); err != nil {
		return err
	}
	resp, err := c.httpClient(u).Do(req)
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", o.Container, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxRESTBody))
		return &APIError{StatusCode: resp.StatusCode, Message: status.UpgradeMessage(b)}
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("read the log of %s: %w", o.Container, err)
	}
	return nil
}
