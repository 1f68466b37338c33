package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/porthole/porthole/kube"
)

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

// getJSON GETs path and decodes the JSON answer into v; a non-2xx answer
// is an *APIError.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	return c.Do(ctx, http.MethodGet, path, "", nil, v)
}
