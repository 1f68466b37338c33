package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Strategic merge patches, Kubernetes' own kind: a merge patch whose
// lists of objects merge element by element, matched by a merge key,
// with directives ($patch, $setElementOrder/..., $retainKeys,
// $deleteFromPrimitiveList/...) that kubectl writes. The merge keys are
// those of the lists of a Deployment's pod template.

// mergeKeys are the merge keys of a kind's lists, by field.
type mergeKeys map[string]string

// templateKeys are the merge keys of the lists of a pod template.
var templateKeys = mergeKeys{
	"containers":     "name",
	"initContainers": "name",
	// A pod's, written through its ephemeralcontainers subresource.
	"ephemeralContainers": "name",
	"env":                 "name",
	"ports":               "containerPort",
	"volumes":             "name",
	"volumeMounts":        "mountPath",
	"imagePullSecrets":    "name",
}

// serviceKeys are the merge keys of a Service's lists.
var serviceKeys = mergeKeys{"ports": "port"}

// strategicMerge merges with the pod template's keys.
func strategicMerge(doc, patch any) any { return templateKeys.merge(doc, patch) }

// mergeList merges a list with the pod template's keys.
func mergeList(doc any, patch []any, key string) []any {
	return templateKeys.mergeList(doc, patch, key)
}

// merge applies patch to doc as a strategic merge patch: maps merge,
// null removes, lists with a merge key merge by it, other lists and
// values replace. doc may be modified.
func (keys mergeKeys) merge(doc, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return stripDirectives(patch)
	}
	if pm["$patch"] == "replace" {
		return stripDirectives(pm)
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	if keep, ok := pm["$retainKeys"].([]any); ok {
		for k := range dm {
			if !slices.Contains(keep, any(k)) && pm[k] == nil {
				delete(dm, k)
			}
		}
	}
	for k, v := range pm {
		switch {
		case strings.HasPrefix(k, "$deleteFromPrimitiveList/"):
			field := strings.TrimPrefix(k, "$deleteFromPrimitiveList/")
			gone, _ := v.([]any)
			if list, ok := dm[field].([]any); ok {
				dm[field] = slices.DeleteFunc(slices.Clone(list), func(e any) bool { return slices.Contains(gone, e) })
			}
		case strings.HasPrefix(k, "$"):
			// $patch, $retainKeys, $setElementOrder/...: handled, or
			// only about order, which merging keeps.
		case v == nil:
			delete(dm, k)
		default:
			if key, ok := keys[k]; ok {
				if pl, ok := v.([]any); ok {
					dm[k] = keys.mergeList(dm[k], pl, key)
					continue
				}
			}
			dm[k] = keys.merge(dm[k], v)
		}
	}
	return dm
}

// mergeList merges a patch list into a list of objects by key: an element
// of the patch merges into the first one with the same key, or is
// appended; {"$patch": "delete", key: ...} removes one; an element
// {"$patch": "replace"} makes the patch's list replace the list. The
// elements are found through an index by key, so a patch of many
// elements costs their number, not its square (a 670 KB patch of 40,000
// containers took 66 s searching the list for each).
func (keys mergeKeys) mergeList(doc any, patch []any, key string) []any {
	for _, pe := range patch {
		if m, ok := pe.(map[string]any); ok && m["$patch"] == "replace" && m[key] == nil {
			var list []any
			for _, e := range patch {
				if m, ok := e.(map[string]any); !ok || m["$patch"] == nil {
					list = append(list, stripDirectives(e))
				}
			}
			return list
		}
	}
	list, _ := doc.([]any)
	out := slices.Clone(list)
	deleted := make([]bool, len(out), len(out)+len(patch))
	at := map[string][]int{} // the objects' positions by key, in order
	for i, e := range out {
		if em, ok := e.(map[string]any); ok {
			k := keyOf(em[key])
			at[k] = append(at[k], i)
		}
	}
	for _, pe := range patch {
		m, ok := pe.(map[string]any)
		if !ok {
			out, deleted = append(out, pe), append(deleted, false)
			continue
		}
		k := keyOf(m[key])
		found := len(at[k]) > 0
		switch {
		case m["$patch"] == "delete":
			if found {
				deleted[at[k][0]] = true
				at[k] = at[k][1:]
			}
		case found:
			out[at[k][0]] = keys.merge(out[at[k][0]], m)
		default:
			at[k] = append(at[k], len(out))
			out, deleted = append(out, keys.merge(nil, m)), append(deleted, false)
		}
	}
	kept := out[:0]
	for i, e := range out {
		if !deleted[i] {
			kept = append(kept, e)
		}
	}
	return kept
}

// keyOf is a merge key's value as an index key: its JSON, which is one
// text for equal decoded values (numbers are float64, maps sort their
// keys), as reflect.DeepEqual would find them.
func keyOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v) // not from JSON: no decoded value fails
	}
	return string(b)
}

// stripDirectives removes the $ keys of a patch value, at every depth.
func stripDirectives(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if !strings.HasPrefix(k, "$") {
				out[k] = stripDirectives(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = stripDirectives(e)
		}
		return out
	}
	return v
}
