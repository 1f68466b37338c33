package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/porthole/porthole/kube"
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
	validation := r.URL.Query().Get("fieldValidation")
	switch validation {
	case "":
		validation = cluster.ValidationWarn // the API server's default
	case cluster.ValidationIgnore, cluster.ValidationWarn, cluster.ValidationStrict:
	default:
		return cluster.WriteOptions{}, invalid("meta.k8s.io", kind, "",
			fmt.Sprintf(`fieldValidation: Unsupported value: %q: supported values: "", "Ignore", "Strict", "Warn"`, validation))
	}
	return cluster.WriteOptions{DryRun: dry, Manager: manager, FieldValidation: validation}, nil
}

// strictBody is a create's or replace's body checked as the API server's
// strict decoder checks it, for the object's apiVersion and kind (as the
// body names them, defaulted to k's): the body without the fields no type
// has, or the API server's 400 when opts say Strict and it names such a
// field or one field twice. With Warn, each problem is a warning.
func strictBody(k *kind, apiVersion, kindName string, body []byte, opts cluster.WriteOptions) ([]byte, *status.HTTPError) {
	clean, problems := kube.StrictFields(apiVersion, kindName, body)
	if len(problems) == 0 {
		return clean, nil
	}
	switch opts.FieldValidation {
	case cluster.ValidationStrict:
		_, version, ok := strings.Cut(apiVersion, "/")
		if !ok {
			version = apiVersion
		}
		return nil, badRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %s", kindName, version, k.kind, cluster.StrictDecodingError(problems)))
	case cluster.ValidationWarn:
		for _, p := range problems {
			if opts.Warn != nil {
				opts.Warn(p)
			}
		}
	}
	return clean, nil
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
func applyBody(k *kind, body []byte, namespace string) ([]byte, []string, *status.HTTPError) {
	doc, dups, err := decodeApplyYAML(body)
	if err != nil {
		return nil, nil, badRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, badRequest("error decoding patch: an apply patch must be an object")
	}
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, nil, badRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	v, _ := obj["apiVersion"].(string)
	if kd, _ := obj["kind"].(string); v != k.apiVersion || kd != k.kind {
		return nil, nil, badRequest(fmt.Sprintf("invalid object type: %s, Kind=%s", v, kd))
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta != nil && meta["managedFields"] != nil {
		return nil, nil, badRequest("metadata.managedFields must be nil")
	}
	if ns, _ := meta["namespace"].(string); ns != "" && ns != namespace && !k.clusterScoped {
		return nil, nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return j, dups, nil
}

// conflictOf is the API server's 409 for an apply's conflicts.
func conflictOf(k *kind, name string, c *cluster.ConflictError) *status.HTTPError {
	d := k.details(name)
	for _, cause := range c.Causes {
		d.Causes = append(d.Causes, status.Cause{Type: "FieldManagerConflict", Message: "conflict with " + cause.Manager, Field: cause.Field})
	}
	return &status.HTTPError{Status: status.NewHTTP(http.StatusConflict, "Conflict", c.Msg, d)}
}

// decodeApplyYAML decodes an apply document (YAML, or JSON) as the API
// server does: a key named twice in one mapping keeps its last value, and
// is a problem in the words of the API server's YAML decoder (line 5: key
// "data" already set in map), in the document's order, which
// fieldValidation=Strict refuses and Warn warns of.
func decodeApplyYAML(body []byte) (any, []string, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(body, &n); err != nil {
		return nil, nil, err
	}
	var dups []string
	lastOnly(&n, &dups)
	var doc any
	if err := n.Decode(&doc); err != nil {
		return nil, nil, err
	}
	return doc, dups, nil
}

// lastOnly drops from n's mappings each key's pairs but the last,
// naming each key met again in dups.
func lastOnly(n *yaml.Node, dups *[]string) {
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			lastOnly(c, dups)
		}
		return
	}
	last := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		id := k.Tag + "\x00" + k.Value
		if _, ok := last[id]; ok {
			name := k.Value
			if k.Tag == "!!str" {
				name = strconv.Quote(k.Value)
			}
			*dups = append(*dups, fmt.Sprintf("line %d: key %s already set in map", k.Line, name))
		}
		last[id] = i
		lastOnly(n.Content[i+1], dups)
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if last[k.Tag+"\x00"+k.Value] == i {
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = kept
}
