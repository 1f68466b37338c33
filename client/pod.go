package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/status"
)

// maxPodBody bounds the size of a Pod read from the server.
const maxPodBody = 8 << 20

// APIError is a non-2xx answer to an API request; Message is the Status
// message when the server sent one (kubectl prints it alone).
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string { return e.Message }

// GetPod reads a pod from the API server (GET /api/v1/namespaces/NS/pods/NAME),
// as kubectl does before it streams, to pick a container and refuse finished pods.
func (c *Client) GetPod(ctx context.Context, namespace, name string) (*kube.Pod, error) {
	var pod kube.Pod
	if err := c.getJSON(ctx, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/pods/"+url.PathEscape(name), &pod); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return nil, err // the server's message, as kubectl prints it
		}
		return nil, fmt.Errorf("get pod: %w", err)
	}
	return &pod, nil
}

// PodNames lists the names of the pods in namespace (shell completion).
func (c *Client) PodNames(ctx context.Context, namespace string) ([]string, error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := c.getJSON(ctx, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/pods", &list); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	names := make([]string, 0, len(list.Items))
	for _, it := range list.Items {
		names = append(names, it.Metadata.Name)
	}
	return names, nil
}

// getJSON GETs path and decodes the JSON answer into v; a non-200 answer is
// an *APIError.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	_, err := onceMoreIfUnauthorized(ctx, c, func() (struct{}, error) { return struct{}{}, c.getJSONOnce(ctx, path, v) })
	return err
}

func (c *Client) getJSONOnce(ctx context.Context, path string, v any) error {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	u := c.url(path, nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if req.Header, err = c.header(ctx); err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient(u).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPodBody))
	c.log.DebugContext(ctx, "GET", "url", u, "status", resp.Status)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		msg := status.UpgradeMessage(body)
		if msg == "empty server response" {
			msg = "the server answered " + resp.Status
		}
		return &APIError{StatusCode: resp.StatusCode, Message: msg}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
