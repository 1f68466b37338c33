package cluster

import (
	"reflect"
	"slices"
	"strings"
)

// Strategic merge patches, Kubernetes' own kind: a merge patch whose
// lists of objects merge element by element, matched by a merge key,
// with directives ($patch, $setElementOrder/..., $retainKeys,
// $deleteFromPrimitiveList/...) that kubectl writes. The merge keys are
// those of the lists of a Deployment's pod template.

// mergeKeys are the merge keys of the pod template's lists, by field.
var mergeKeys = map[string]string{
	"containers":       "name",
	"initContainers":   "name",
	"env":              "name",
	"ports":            "containerPort",
	"volumes":          "name",
	"volumeMounts":     "mountPath",
	"imagePullSecrets": "name",
}

// strategicMerge applies patch to doc as a strategic merge patch: maps
// merge, null removes, lists with a merge key merge by it, other lists
// and values replace. doc may be modified.
func strategicMerge(doc, patch any) any {
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
			if key, ok := mergeKeys[k]; ok {
				if pl, ok := v.([]any); ok {
					dm[k] = mergeList(dm[k], pl, key)
					continue
				}
			}
			dm[k] = strategicMerge(dm[k], v)
		}
	}
	return dm
}

// mergeList merges a patch list into a list of objects by key: an element
// of the patch merges into the one with the same key, or is appended;
// {"$patch": "delete", key: ...} removes one; an element {"$patch":
// "replace"} makes the patch's list replace the list.
func mergeList(doc any, patch []any, key string) []any {
	out, _ := doc.([]any)
	out = slices.Clone(out)
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
	for _, pe := range patch {
		m, ok := pe.(map[string]any)
		if !ok {
			out = append(out, pe)
			continue
		}
		i := slices.IndexFunc(out, func(e any) bool {
			em, ok := e.(map[string]any)
			return ok && reflect.DeepEqual(em[key], m[key])
		})
		switch {
		case m["$patch"] == "delete":
			if i >= 0 {
				out = slices.Delete(out, i, i+1)
			}
		case i >= 0:
			out[i] = strategicMerge(out[i], m)
		default:
			out = append(out, strategicMerge(nil, m))
		}
	}
	return out
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
