package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Field sets, as the API server's structured-merge-diff keeps them in
// managedFields: the places in an object that a manager set. A place is
// a path of elements, each "f:<field>", "k:<key>" (an element of a list
// keyed by some of its fields, the key as JSON), "v:<value>" (an
// element of a list of unique values, as JSON) or "i:<index>" (an element
// of another list, in errors only). A set holds the leaves
// (values, atomic lists and maps, empty maps) and the keyed elements
// themselves.

// fieldPath is a place in an object, its elements joined by pathSep.
type fieldPath string

// pathSep joins path elements: no field name and no JSON holds it raw.
const pathSep = "\x00"

func (p fieldPath) elems() []string {
	if p == "" {
		return nil
	}
	return strings.Split(string(p), pathSep)
}

func (p fieldPath) child(e string) fieldPath {
	if p == "" {
		return fieldPath(e)
	}
	return p + pathSep + fieldPath(e)
}

// String is the path as the API server prints it in a conflict:
// .spec.containers[name="app"].image.
func (p fieldPath) String() string {
	var b strings.Builder
	for _, e := range p.elems() {
		switch e[:2] {
		case "f:":
			b.WriteString("." + e[2:])
		case "v:":
			b.WriteString("[=" + e[2:] + "]")
		case "i:":
			b.WriteString("[" + e[2:] + "]")
		case "k:":
			var key map[string]any
			_ = json.Unmarshal([]byte(e[2:]), &key)
			names := slices.Sorted(maps.Keys(key))
			parts := make([]string, len(names))
			for i, n := range names {
				v, _ := json.Marshal(key[n])
				parts[i] = n + "=" + string(v)
			}
			b.WriteString("[" + strings.Join(parts, ",") + "]")
		}
	}
	return b.String()
}

// fieldSet is a set of places.
type fieldSet map[fieldPath]struct{}

func (s fieldSet) has(p fieldPath) bool { _, ok := s[p]; return ok }

// parents are the places that hold members of s: every proper prefix
// of a member's path. With them, whether s has a place inside p costs a
// lookup, not a search of s.
func (s fieldSet) parents() fieldSet {
	out := fieldSet{}
	for p := range s {
		for i := len(p) - 1; i >= 0; i-- {
			if p[i] == pathSep[0] {
				if _, seen := out[p[:i]]; seen {
					break // and so are the shorter ones
				}
				out[p[:i]] = struct{}{}
			}
		}
	}
	return out
}

// fieldsV1 is s in the API server's managedFields form: a tree of
// path elements, "." marking a member that has members inside it.
func (s fieldSet) fieldsV1() map[string]any {
	root := map[string]any{}
	for p := range s {
		node := root
		for _, e := range p.elems() {
			next, ok := node[e].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[e] = next
			}
			node = next
		}
	}
	var mark func(node map[string]any, p fieldPath)
	mark = func(node map[string]any, p fieldPath) {
		for e, child := range node {
			cm := child.(map[string]any)
			cp := p.child(e)
			if len(cm) > 0 && s.has(cp) {
				cm["."] = map[string]any{}
			}
			mark(cm, cp)
		}
	}
	mark(root, "")
	return root
}

// setFromFieldsV1 reads a managedFields entry's tree back, leaving out
// what is not a path element.
func setFromFieldsV1(tree map[string]any) fieldSet {
	s := fieldSet{}
	var walk func(node map[string]any, p fieldPath)
	walk = func(node map[string]any, p fieldPath) {
		for e, child := range node {
			if e == "." {
				s[p] = struct{}{}
				continue
			}
			if len(e) < 2 || !slices.Contains([]string{"f:", "k:", "v:", "i:"}, e[:2]) || strings.Contains(e, pathSep) {
				continue // not a path element: a written entry may hold anything
			}
			cm, _ := child.(map[string]any)
			if len(cm) == 0 {
				s[p.child(e)] = struct{}{}
				continue
			}
			walk(cm, p.child(e))
		}
	}
	walk(tree, "")
	return s
}

// schema says how a kind's lists and maps merge and are owned: lists
// keyed by fields, lists that are sets, and the fields (by dotted name,
// list elements left out) whose value is owned whole.
type schema struct {
	keys   map[string][]string
	sets   map[string]bool
	atomic map[string]bool
}

// atomicElems are the keyed lists whose elements are owned whole (an
// owner reference is a struct the API server marks atomic).
var atomicElems = map[string]bool{"ownerReferences": true}

// metaSchema is what every kind's metadata has.
var metaSchema = schema{
	keys: map[string][]string{"ownerReferences": {"uid"}},
	sets: map[string]bool{"finalizers": true},
}

// podSchema is a pod's, and a pod template's.
var podSchema = schema{
	keys: map[string][]string{
		"containers": {"name"}, "initContainers": {"name"}, "ephemeralContainers": {"name"},
		"env": {"name"}, "ports": {"containerPort", "protocol"}, "volumes": {"name"},
		"volumeMounts": {"mountPath"}, "imagePullSecrets": {"name"}, "hostAliases": {"ip"},
		"ownerReferences": {"uid"}, "resourceClaims": {"name"},
		"topologySpreadConstraints": {"topologyKey", "whenUnsatisfiable"},
	},
	sets:   metaSchema.sets,
	atomic: map[string]bool{"spec.nodeSelector": true, "spec.template.spec.nodeSelector": true, "spec.selector": true},
}

// serviceSchema is a Service's: its ports are keyed by port and protocol,
// its selector owned whole.
var serviceSchema = schema{
	keys:   map[string][]string{"ports": {"port", "protocol"}, "ownerReferences": {"uid"}},
	sets:   metaSchema.sets,
	atomic: map[string]bool{"spec.selector": true},
}

// keyDefaults are the values of key fields an element may leave out:
// a port left out is 0, as the API server's typed conversion makes it
// (and its validation then refuses).
var keyDefaults = map[string]any{"protocol": "TCP", "port": float64(0), "containerPort": float64(0)}

// keyOfElem is a keyed list element's path element, or "" if it is not
// an object.
func keyOfElem(e any, keys []string) string {
	m, ok := e.(map[string]any)
	if !ok {
		return ""
	}
	key := map[string]any{}
	for _, k := range keys {
		v, ok := m[k]
		if !ok || v == nil {
			v, ok = keyDefaults[k]
		}
		if ok {
			key[k] = v
		}
	}
	b, _ := json.Marshal(key) // sorted keys, as the API server's
	return "k:" + string(b)
}

func valueElem(e any) string {
	b, _ := json.Marshal(e)
	return "v:" + string(b)
}

// fieldName is the field a path ends in, or "".
func fieldName(p fieldPath) string {
	es := p.elems()
	if len(es) == 0 || !strings.HasPrefix(es[len(es)-1], "f:") {
		return ""
	}
	return es[len(es)-1][2:]
}

// set is the places of doc that hold a value: what an apply owns.
func (sc *schema) set(doc any) fieldSet {
	return keysOf(sc.index(doc, false))
}

// index is the places of doc that hold a value, with their values; with
// maps, also the maps and merged lists that hold those places (an update
// owns one it adds as well as what is in it). One walk: every lookup after is a
// map's.
func (sc *schema) index(doc any, maps bool) map[fieldPath]any {
	idx := map[fieldPath]any{}
	sc.collect(idx, "", "", doc, maps)
	return idx
}

func keysOf(idx map[fieldPath]any) fieldSet {
	s := make(fieldSet, len(idx))
	for p := range idx {
		s[p] = struct{}{}
	}
	return s
}

// fieldElem is a field's path element. A NUL, which joins elements, does
// not stay in a name (no valid object has one).
func fieldElem(name string) string { return "f:" + strings.ReplaceAll(name, pathSep, "\ufffd") }

func (sc *schema) collect(idx map[fieldPath]any, p fieldPath, dotted string, v any, maps bool) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 || sc.atomic[dotted] {
			if p != "" {
				idx[p] = v
			}
			return
		}
		if maps && p != "" {
			idx[p] = v
		}
		for k, e := range t {
			sc.collect(idx, p.child(fieldElem(k)), strings.TrimPrefix(dotted+"."+k, "."), e, maps)
		}
	case []any:
		name := fieldName(p)
		if maps && len(t) > 0 && (sc.keys[name] != nil || sc.sets[name]) {
			idx[p] = v
		}
		switch keys := sc.keys[name]; {
		case keys != nil:
			for _, e := range t {
				k := keyOfElem(e, keys)
				if k == "" {
					idx[p] = v
					return
				}
				ep := p.child(k)
				idx[ep] = e
				if !atomicElems[name] {
					sc.collect(idx, ep, dotted, e, maps)
				}
			}
		case sc.sets[name]:
			for _, e := range t {
				idx[p.child(valueElem(e))] = e
			}
		default:
			idx[p] = v
		}
	default:
		idx[p] = v
	}
}

// check refuses an applied document whose keyed lists cannot be merged:
// an element that is not an object, lacks a key field (without a
// default), or has another's key.
func (sc *schema) check(p fieldPath, dotted string, v any) error {
	switch t := v.(type) {
	case map[string]any:
		if sc.atomic[dotted] {
			return nil
		}
		for k, e := range t {
			if err := sc.check(p.child(fieldElem(k)), strings.TrimPrefix(dotted+"."+k, "."), e); err != nil {
				return err
			}
		}
	case []any:
		keys := sc.keys[fieldName(p)]
		if keys == nil {
			return nil
		}
		seen := map[string]bool{}
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: element %d: associative list with keys has an element that is not a map", p, i)
			}
			for _, k := range keys {
				if _, ok := m[k]; !ok {
					if _, ok := keyDefaults[k]; !ok {
						return fmt.Errorf("%s: element %d: associative list with keys has an element that omits key field %q (and doesn't have default value)", p, i, k)
					}
				}
			}
			k := keyOfElem(e, keys)
			if seen[k] {
				return fmt.Errorf("%s: duplicate entries for key %s", p, fieldPath(k))
			}
			seen[k] = true
			if err := sc.check(p.child(k), dotted, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// prune is doc without the places in gone, found as index finds them:
// one walk, whatever their number.
func (sc *schema) prune(doc any, gone fieldSet, p fieldPath, dotted string) any {
	switch t := doc.(type) {
	case map[string]any:
		if sc.atomic[dotted] {
			return doc
		}
		for k, e := range t {
			cp := p.child(fieldElem(k))
			if gone.has(cp) {
				delete(t, k)
				continue
			}
			t[k] = sc.prune(e, gone, cp, strings.TrimPrefix(dotted+"."+k, "."))
		}
		return t
	case []any:
		name := fieldName(p)
		keys := sc.keys[name]
		if keys == nil && !sc.sets[name] {
			return doc
		}
		out := make([]any, 0, len(t))
		for _, e := range t {
			var ep fieldPath
			if keys != nil {
				k := keyOfElem(e, keys)
				if k == "" {
					return doc
				}
				ep = p.child(k)
			} else {
				ep = p.child(valueElem(e))
			}
			if !gone.has(ep) {
				out = append(out, sc.prune(e, gone, ep, dotted))
			}
		}
		return out
	}
	return doc
}

// merge is cfg applied onto live as server-side apply merges: maps
// merge field by field, keyed lists element by element, set lists as
// sets; other lists and values are replaced. live may be modified.
func (sc *schema) merge(live, cfg any, dotted, name string) any {
	switch c := cfg.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok || sc.atomic[dotted] {
			return cfg
		}
		for k, v := range c {
			l[k] = sc.merge(l[k], v, strings.TrimPrefix(dotted+"."+k, "."), k)
		}
		return l
	case []any:
		l, ok := live.([]any)
		if !ok {
			return cfg
		}
		switch keys := sc.keys[name]; {
		case keys != nil:
			out := slices.Clone(l)
			at := make(map[string]int, len(out))
			for i, e := range out {
				if k := keyOfElem(e, keys); k != "" {
					if _, seen := at[k]; !seen {
						at[k] = i
					}
				}
			}
			for _, e := range c {
				k := keyOfElem(e, keys)
				if i, ok := at[k]; k != "" && ok {
					if atomicElems[name] {
						out[i] = e
						continue
					}
					out[i] = sc.merge(out[i], e, dotted, "")
				} else {
					if k != "" {
						at[k] = len(out)
					}
					out = append(out, e)
				}
			}
			return out
		case sc.sets[name]:
			out := slices.Clone(l)
			seen := make(map[string]bool, len(out))
			for _, e := range out {
				seen[valueElem(e)] = true
			}
			for _, e := range c {
				if v := valueElem(e); !seen[v] {
					seen[v] = true
					out = append(out, e)
				}
			}
			return out
		}
	}
	return cfg
}

// sameValue says whether two decoded JSON values are equal.
func sameValue(a, b any) bool { return reflect.DeepEqual(a, b) }
