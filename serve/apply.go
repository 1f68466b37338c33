package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/serve/cluster"
)

// applyPatch is server-side apply's media type: a YAML (or JSON)
// document of the fields its manager wants.
const applyPatch = "application/apply-patch+yaml"

// fieldManagerMaxLength is the API server's bound on a manager's name.
const fieldManagerMaxLength = 128

// writeOptions reads what a write's query says of it (dryRun,
// fieldManager) and who writes: the fieldManager, or the first word of
// the user agent, as the API server names managers (kubectl, python).
// kind names the options in an error: CreateOptions, UpdateOptions.
func writeOptions(r *http.Request, kind string) (cluster.WriteOptions, *status.HTTPError) {
	dry, aerr := dryRunOf(r.URL.Query()["dryRun"])
	if aerr != nil {
		return cluster.WriteOptions{}, aerr
	}
	manager := r.URL.Query().Get("fieldManager")
	if msg := checkFieldManager(manager); msg != "" {
		return cluster.WriteOptions{}, invalid("meta.k8s.io", kind, "", msg)
	}
	if manager == "" {
		manager = managerFromUserAgent(r.UserAgent())
	}
	return cluster.WriteOptions{DryRun: dry, Manager: manager}, nil
}

// checkFieldManager says what is wrong with a fieldManager, as the API
// server does, or "".
func checkFieldManager(m string) string {
	if len(m) > fieldManagerMaxLength {
		return fmt.Sprintf("fieldManager: Too long: may not be more than %d bytes", fieldManagerMaxLength)
	}
	for i, r := range m {
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("fieldManager: Invalid value: %q: invalid character %#U (at position %d)", m, r, i)
		}
	}
	return ""
}

// managerFromUserAgent is a user agent's text before its first "/",
// printable and within fieldManagerMaxLength.
func managerFromUserAgent(ua string) string {
	first, _, _ := strings.Cut(ua, "/")
	var b strings.Builder
	for _, r := range first {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > fieldManagerMaxLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// patchOptions are a patch's options: writeOptions', and for a
// server-side apply (ct applyPatch) a fieldManager, which it needs, and
// force, which only it may have.
func patchOptions(r *http.Request, ct string) (cluster.WriteOptions, *status.HTTPError) {
	q := r.URL.Query()
	switch _, forced := q["force"]; {
	case ct == applyPatch && q.Get("fieldManager") == "":
		return cluster.WriteOptions{}, invalid("meta.k8s.io", "PatchOptions", "", "fieldManager: Required value: is required for apply patch")
	case ct != applyPatch && forced:
		return cluster.WriteOptions{}, invalid("meta.k8s.io", "PatchOptions", "", "force: Forbidden: may not be specified for non-apply patch")
	}
	opts, aerr := writeOptions(r, "PatchOptions")
	if aerr != nil {
		return opts, aerr
	}
	opts.Force = ct == applyPatch && protocol.QueryBool(q, "force")
	return opts, nil
}

// applyBody is an apply's document as JSON, checked as the API server
// checks it before merging: an object, of the URL's version, without
// managedFields, in the URL's namespace if it names one.
func applyBody(k *kind, body []byte, namespace string) ([]byte, *status.HTTPError) {
	var doc any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return nil, badRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, badRequest("error decoding patch: an apply patch must be an object")
	}
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, badRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	v, _ := obj["apiVersion"].(string)
	if kd, _ := obj["kind"].(string); v != k.apiVersion || kd != k.kind {
		return nil, badRequest(fmt.Sprintf("invalid object type: %s, Kind=%s", v, kd))
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta != nil && meta["managedFields"] != nil {
		return nil, badRequest("metadata.managedFields must be nil")
	}
	if ns, _ := meta["namespace"].(string); ns != "" && ns != namespace && !k.clusterScoped {
		return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return j, nil
}

// conflictOf is the API server's 409 for an apply's conflicts.
func conflictOf(k *kind, name string, c *cluster.ConflictError) *status.HTTPError {
	d := k.details(name)
	for _, cause := range c.Causes {
		d.Causes = append(d.Causes, status.Cause{Type: "FieldManagerConflict", Message: "conflict with " + cause.Manager, Field: cause.Field})
	}
	return &status.HTTPError{Status: status.NewHTTP(http.StatusConflict, "Conflict", c.Msg, d)}
}
