package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/porthole/porthole/client"
)

// Webhook authorizes requests to the node's kubelet paths as the kubelet's
// webhook mode does: a SubjectAccessReview to the API server for the
// caller (its client certificate's CN and O) on the proxy subresource of
// the Node, verb create for POST and get otherwise, as the kubelet maps
// them. Decisions are cached (allowed 5 minutes, denied 30 seconds, the
// kubelet's defaults).
type Webhook struct {
	c        *client.Client
	nodeName string
	log      *slog.Logger
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]decision
}

type decision struct {
	allowed bool
	reason  string
	until   time.Time
}

const (
	allowedTTL = 5 * time.Minute
	deniedTTL  = 30 * time.Second
)

// NewWebhook returns a Webhook asking through c for node nodeName.
func NewWebhook(c *client.Client, nodeName string, log *slog.Logger) *Webhook {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Webhook{c: c, nodeName: nodeName, log: log, now: time.Now, cache: map[string]decision{}}
}

// Handler lets through to next what the API server allows; the caller must
// have been authenticated by a verified client certificate (r.TLS).
func (w *Webhook) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			http.Error(rw, "Unauthorized", http.StatusUnauthorized)
			return
		}
		subj := r.TLS.VerifiedChains[0][0].Subject
		verb := "get"
		if r.Method == http.MethodPost {
			verb = "create"
		}
		ok, reason, err := w.allowed(r.Context(), subj.CommonName, subj.Organization, verb)
		if err != nil {
			w.log.Warn("node authorization", "user", subj.CommonName, "err", err)
			http.Error(rw, "Authorization error (user="+subj.CommonName+", verb="+verb+", resource=nodes, subresource=proxy)",
				http.StatusInternalServerError)
			return
		}
		if !ok {
			// The kubelet's words.
			msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=proxy)", subj.CommonName, verb)
			if reason != "" {
				msg += ": " + reason
			}
			http.Error(rw, msg, http.StatusForbidden)
			return
		}
		next.ServeHTTP(rw, r)
	})
}

// allowed asks the API server, or the cache.
func (w *Webhook) allowed(ctx context.Context, user string, groups []string, verb string) (bool, string, error) {
	key := user + "\x00" + strings.Join(groups, "\x00") + "\x00" + verb
	now := w.now()
	w.mu.Lock()
	d, hit := w.cache[key]
	w.mu.Unlock()
	if hit && now.Before(d.until) {
		return d.allowed, d.reason, nil
	}
	review := map[string]any{
		"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
		"spec": map[string]any{
			"user": user, "groups": groups,
			"resourceAttributes": map[string]string{"verb": verb, "resource": "nodes", "subresource": "proxy", "name": w.nodeName},
		},
	}
	var out struct {
		Status struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		} `json:"status"`
	}
	if err := w.c.Do(ctx, http.MethodPost, "/apis/authorization.k8s.io/v1/subjectaccessreviews", "", review, &out); err != nil {
		return false, "", fmt.Errorf("subject access review: %w", err)
	}
	d = decision{allowed: out.Status.Allowed, reason: out.Status.Reason, until: now.Add(deniedTTL)}
	if d.allowed {
		d.until = now.Add(allowedTTL)
	}
	w.mu.Lock()
	if len(w.cache) > 10000 {
		clear(w.cache) // bounded: many distinct callers just ask again
	}
	w.cache[key] = d
	w.mu.Unlock()
	return d.allowed, d.reason, nil
}
