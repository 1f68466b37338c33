package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/porthole/porthole/protocol/status"
)

// maxRESTBody bounds an API answer read by Do (a pod or node document, a
// short list).
const maxRESTBody = 8 << 20

// MergePatch is the content type of a JSON merge patch (RFC 7386), which
// the API server takes on PATCH for every resource.
const MergePatch = "application/merge-patch+json"

// Do sends one API request: in (when not nil) marshalled as JSON, sent as
// contentType (application/json when empty; MergePatch for PATCH), and a
// 2xx answer decoded into out (when not nil). path may carry a query
// ("/api/v1/pods?fieldSelector=..."). Any other answer is an
// *APIError with the server's message and status code. It is the REST
// call `porthole node --register` keeps its Node, Lease and pods with.
func (c *Client) Do(ctx context.Context, method, path, contentType string, in, out any) error {
	_, err := onceMoreIfUnauthorized(ctx, c, func() (struct{}, error) {
		return struct{}{}, c.doOnce(ctx, method, path, contentType, in, out)
	})
	return err
}

func (c *Client) doOnce(ctx context.Context, method, path, contentType string, in, out any) error {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	p, rawQuery, _ := strings.Cut(path, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	u := c.url(p, q)
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if req.Header, err = c.header(ctx); err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.httpClient(u).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRESTBody))
	c.log.DebugContext(ctx, method, "url", u, "status", resp.Status)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := status.UpgradeMessage(b)
		if msg == "empty server response" {
			msg = "the server answered " + resp.Status
		}
		return &APIError{StatusCode: resp.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return nil
}
