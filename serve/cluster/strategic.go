package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
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
		case strings.HasPrefix(k, "$setElementOrder/"):
			// Only an order, of a list the patch does not change.
			field := strings.TrimPrefix(k, "$setElementOrder/")
			order, _ := v.([]any)
			list, isList := dm[field].([]any)
			if key, ok := keys[field]; ok && isList && pm[field] == nil {
				dm[field] = orderList(list, list, order, key)
			}
		case strings.HasPrefix(k, "$"):
			// $patch, $retainKeys: handled.
		case v == nil:
			delete(dm, k)
		default:
			if key, ok := keys[k]; ok {
				if pl, ok := v.([]any); ok {
					orig, _ := dm[k].([]any)
					order, ok := pm["$setElementOrder/"+k].([]any)
					if !ok {
						order = pl
					}
					dm[k] = orderList(keys.mergeList(dm[k], pl, key), orig, order, key)
					continue
				}
			}
			dm[k] = keys.merge(dm[k], v)
		}
	}
	return dm
}

// orderList puts a merged list of objects in the order the API server
// gives it: the elements order names (the patch's list, or its
// $setElementOrder) as it has them, the others as the original had
// them, the two interleaved where the original orders both.
func orderList(merged, original, order []any, key string) []any {
	at := func(list []any) map[string]int {
		idx := make(map[string]int, len(list))
		for i, e := range list {
			if m, ok := e.(map[string]any); ok {
				if _, seen := idx[keyOf(m[key])]; !seen {
					idx[keyOf(m[key])] = i
				}
			}
		}
		return idx
	}
	inOrder, inOriginal := at(order), at(original)
	index := func(idx map[string]int, e any) int {
		m, ok := e.(map[string]any)
		if !ok {
			return -1
		}
		if i, ok := idx[keyOf(m[key])]; ok {
			return i
		}
		return -1
	}
	var named, others []any
	for _, e := range merged {
		if index(inOrder, e) >= 0 {
			named = append(named, e)
		} else {
			others = append(others, e)
		}
	}
	// The API server's sort, its comparison included: an element either
	// list lacks goes before.
	sortBy := func(list []any, idx map[string]int) {
		sort.SliceStable(list, func(i, j int) bool {
			if ii := index(idx, list[i]); ii >= 0 {
				if ij := index(idx, list[j]); ij >= 0 {
					return ii < ij
				}
			}
			return true
		})
	}
	sortBy(named, inOrder)
	sortBy(others, inOriginal)
	out := make([]any, 0, len(merged))
	i, j := 0, 0
	for i < len(others) || j < len(named) {
		switch {
		case j >= len(named):
			out, i = append(out, others[i]), i+1
		case i >= len(others):
			out, j = append(out, named[j]), j+1
		default:
			li, ri := index(inOriginal, others[i]), index(inOriginal, named[j])
			if li >= 0 && ri >= 0 && li < ri {
				out, i = append(out, others[i]), i+1
			} else {
				out, j = append(out, named[j]), j+1
			}
		}
	}
	return out
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
