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
// keyed by some of its fields, the key as JSON) or "v:<value>" (an
// element of a list of unique values, as JSON). A set holds the leaves
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

// under says whether q is p or a place inside it.
func (p fieldPath) under(q fieldPath) bool {
	return q == p || strings.HasPrefix(string(q), string(p)+pathSep)
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

// ownsUnder says whether s holds p or a place inside it.
func (s fieldSet) ownsUnder(p fieldPath) bool {
	for q := range s {
		if p.under(q) {
			return true
		}
	}
	return false
}

// leaf says whether p holds no other member of s inside it.
func (s fieldSet) leaf(p fieldPath) bool {
	for q := range s {
		if q != p && p.under(q) {
			return false
		}
	}
	return true
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
			if len(e) < 2 || !slices.Contains([]string{"f:", "k:", "v:", "i:"}, e[:2]) {
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
	s := fieldSet{}
	sc.collect(s, "", "", doc, false)
	return s
}

// fullSet is set and the maps that hold those places: an update owns a
// map it adds as well as what is in it.
func (sc *schema) fullSet(doc any) fieldSet {
	s := fieldSet{}
	sc.collect(s, "", "", doc, true)
	return s
}

func (sc *schema) collect(s fieldSet, p fieldPath, dotted string, v any, maps bool) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 || sc.atomic[dotted] {
			if p != "" {
				s[p] = struct{}{}
			}
			return
		}
		if maps && p != "" {
			s[p] = struct{}{}
		}
		for k, e := range t {
			sc.collect(s, p.child("f:"+k), strings.TrimPrefix(dotted+"."+k, "."), e, maps)
		}
	case []any:
		name := fieldName(p)
		switch keys := sc.keys[name]; {
		case keys != nil:
			for _, e := range t {
				k := keyOfElem(e, keys)
				if k == "" {
					s[p] = struct{}{}
					return
				}
				ep := p.child(k)
				s[ep] = struct{}{}
				sc.collect(s, ep, dotted, e, maps)
			}
		case sc.sets[name]:
			for _, e := range t {
				s[p.child(valueElem(e))] = struct{}{}
			}
		default:
			s[p] = struct{}{}
		}
	default:
		s[p] = struct{}{}
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
			if err := sc.check(p.child("f:"+k), strings.TrimPrefix(dotted+"."+k, "."), e); err != nil {
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

// valueAt is the value at p in doc, and whether there is one.
func valueAt(doc any, p fieldPath) (any, bool) {
	v := doc
	for _, e := range p.elems() {
		switch e[:2] {
		case "f:":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[e[2:]]; !ok {
				return nil, false
			}
		default:
			l, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i := findElem(l, e)
			if i < 0 {
				return nil, false
			}
			v = l[i]
		}
	}
	return v, true
}

// findElem is the index of the list element e names, or -1.
func findElem(l []any, e string) int {
	if strings.HasPrefix(e, "v:") {
		return slices.IndexFunc(l, func(x any) bool { return valueElem(x) == e })
	}
	var key map[string]any
	if json.Unmarshal([]byte(e[2:]), &key) != nil {
		return -1
	}
	keys := slices.Sorted(maps.Keys(key))
	return slices.IndexFunc(l, func(x any) bool { return keyOfElem(x, keys) == e })
}

// removeAt deletes the value at p from doc, if there is one.
func removeAt(doc any, p fieldPath) {
	es := p.elems()
	if len(es) == 0 {
		return
	}
	parent, ok := valueAt(doc, fieldPath(strings.Join(es[:len(es)-1], pathSep)))
	if !ok {
		return
	}
	last := es[len(es)-1]
	if strings.HasPrefix(last, "f:") {
		if m, ok := parent.(map[string]any); ok {
			delete(m, last[2:])
		}
		return
	}
	// A list element: its list is replaced in its own parent.
	l, ok := parent.([]any)
	if !ok {
		return
	}
	if i := findElem(l, last); i >= 0 {
		grand, _ := valueAt(doc, fieldPath(strings.Join(es[:len(es)-2], pathSep)))
		if m, ok := grand.(map[string]any); ok && strings.HasPrefix(es[len(es)-2], "f:") {
			m[es[len(es)-2][2:]] = slices.Delete(slices.Clone(l), i, i+1)
		}
	}
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
			for _, e := range c {
				k := keyOfElem(e, keys)
				if i := findElem(out, k); k != "" && i >= 0 {
					out[i] = sc.merge(out[i], e, dotted, "")
				} else {
					out = append(out, e)
				}
			}
			return out
		case sc.sets[name]:
			out := slices.Clone(l)
			for _, e := range c {
				if findElem(out, valueElem(e)) < 0 {
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
