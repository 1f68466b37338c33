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

// maxLogBytes bounds a log read by ContainerLog.
const maxLogBytes = 8 << 20

// ContainerLog reads a container's log (its last 8 MiB at most), as
// kubectl logs does without --follow.
func (c *Client) ContainerLog(ctx context.Context, namespace, pod, container string) ([]byte, error) {
	return onceMoreIfUnauthorized(ctx, c, func() ([]byte, error) { return c.containerLog(ctx, namespace, pod, container) })
}

func (c *Client) containerLog(ctx context.Context, namespace, pod, container string) ([]byte, error) {
	u := c.url("/api/v1/namespaces/"+url.PathEscape(namespace)+"/pods/"+url.PathEscape(pod)+"/log",
		url.Values{"container": {container}, "limitBytes": {fmt.Sprint(maxLogBytes)}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if req.Header, err = c.header(ctx); err != nil {
		return nil, err
	}
	resp, err := c.httpClient(u).Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the log of %s: %w", container, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLogBytes))
	if err != nil {
		return nil, fmt.Errorf("read the log of %s: %w", container, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &APIError{StatusCode: resp.StatusCode, Message: status.UpgradeMessage(b)}
	}
	return b, nil
}
