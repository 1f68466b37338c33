package kube

import (
	"fmt"
	"strings"
)

// Selector is a parsed label or field selector: every requirement must hold.
// The zero value selects everything.
type Selector struct {
	reqs []requirement
}

type operator int

const (
	opEquals operator = iota
	opNotEquals
	opIn
	opNotIn
	opExists
	opNotExists
)

type requirement struct {
	key    string
	op     operator
	values []string
}

// MaxSelectorLen bounds a selector string; longer ones are refused.
const MaxSelectorLen = 4096

// ParseLabelSelector parses the labelSelector query parameter: requirements
// separated by commas, each "k=v", "k==v", "k!=v", "k", "!k", "k in (a,b)"
// or "k notin (a,b)".
func ParseLabelSelector(s string) (Selector, error) {
	return parseSelector(s, true)
}

// ParseFieldSelector parses the fieldSelector query parameter: requirements
// separated by commas, each "field=v", "field==v" or "field!=v". Which fields
// exist is up to the caller (see PodFields).
func ParseFieldSelector(s string) (Selector, error) {
	return parseSelector(s, false)
}

func parseSelector(s string, labels bool) (Selector, error) {
	if len(s) > MaxSelectorLen {
		return Selector{}, fmt.Errorf("selector longer than %d bytes", MaxSelectorLen)
	}
	var sel Selector
	for _, part := range splitTopLevel(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			if strings.TrimSpace(s) == "" {
				continue
			}
			return Selector{}, fmt.Errorf("unable to parse requirement: empty requirement in %q", s)
		}
		r, err := parseRequirement(part, labels)
		if err != nil {
			return Selector{}, fmt.Errorf("unable to parse requirement %q: %w", part, err)
		}
		sel.reqs = append(sel.reqs, r)
	}
	return sel, nil
}

// splitTopLevel splits at commas outside parentheses.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func parseRequirement(p string, labels bool) (requirement, error) {
	if i := strings.Index(p, "!="); i >= 0 {
		return keyValue(p[:i], p[i+2:], opNotEquals)
	}
	if i := strings.Index(p, "=="); i >= 0 {
		return keyValue(p[:i], p[i+2:], opEquals)
	}
	if i := strings.Index(p, "="); i >= 0 {
		return keyValue(p[:i], p[i+1:], opEquals)
	}
	if !labels {
		return requirement{}, fmt.Errorf("field selectors need an operator (=, == or !=)")
	}
	if fields := strings.Fields(p); len(fields) >= 2 && (fields[1] == "in" || fields[1] == "notin") {
		op := opIn
		if fields[1] == "notin" {
			op = opNotIn
		}
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(p)[len(fields[0]):], " "))
		rest = strings.TrimSpace(rest[len(fields[1]):])
		if len(rest) < 2 || rest[0] != '(' || rest[len(rest)-1] != ')' {
			return requirement{}, fmt.Errorf("set must be in parentheses")
		}
		var vals []string
		for _, v := range strings.Split(rest[1:len(rest)-1], ",") {
			v = strings.TrimSpace(v)
			if err := checkSelectorToken(v, true); err != nil {
				return requirement{}, err
			}
			vals = append(vals, v)
		}
		return requirement{key: fields[0], op: op, values: vals}, checkSelectorToken(fields[0], false)
	}
	key, op := p, opExists
	if strings.HasPrefix(key, "!") {
		key, op = strings.TrimSpace(key[1:]), opNotExists
	}
	return requirement{key: key, op: op}, checkSelectorToken(key, false)
}

func keyValue(k, v string, op operator) (requirement, error) {
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if err := checkSelectorToken(k, false); err != nil {
		return requirement{}, err
	}
	if err := checkSelectorToken(v, true); err != nil {
		return requirement{}, err
	}
	return requirement{key: k, op: op, values: []string{v}}, nil
}

// checkSelectorToken refuses empty keys and characters that belong to the
// selector syntax; the API server is stricter about label syntax, but a
// selector that cannot match anything does no harm here.
func checkSelectorToken(s string, value bool) error {
	if s == "" && !value {
		return fmt.Errorf("empty key")
	}
	if strings.ContainsAny(s, "!=(), \t") {
		return fmt.Errorf("invalid character in %q", s)
	}
	return nil
}

// Empty reports whether the selector selects everything.
func (s Selector) Empty() bool { return len(s.reqs) == 0 }

// Matches reports whether a set of key/value pairs satisfies every
// requirement; get returns a key's value and whether it is present.
func (s Selector) Matches(get func(key string) (string, bool)) bool {
	for _, r := range s.reqs {
		v, ok := get(r.key)
		switch r.op {
		case opEquals:
			if !ok || v != r.values[0] {
				return false
			}
		case opNotEquals:
			if ok && v == r.values[0] {
				return false
			}
		case opIn:
			if !ok || !contains(r.values, v) {
				return false
			}
		case opNotIn:
			if ok && contains(r.values, v) {
				return false
			}
		case opExists:
			if !ok {
				return false
			}
		case opNotExists:
			if ok {
				return false
			}
		}
	}
	return true
}

// Keys returns the keys the selector mentions, so a caller can refuse
// unsupported field names before matching.
func (s Selector) Keys() []string {
	keys := make([]string, len(s.reqs))
	for i, r := range s.reqs {
		keys[i] = r.key
	}
	return keys
}

// String renders the selector in canonical form.
func (s Selector) String() string {
	parts := make([]string, len(s.reqs))
	for i, r := range s.reqs {
		switch r.op {
		case opEquals:
			parts[i] = r.key + "=" + r.values[0]
		case opNotEquals:
			parts[i] = r.key + "!=" + r.values[0]
		case opIn:
			parts[i] = r.key + " in (" + strings.Join(r.values, ",") + ")"
		case opNotIn:
			parts[i] = r.key + " notin (" + strings.Join(r.values, ",") + ")"
		case opExists:
			parts[i] = r.key
		case opNotExists:
			parts[i] = "!" + r.key
		}
	}
	return strings.Join(parts, ",")
}

func contains(list []string, v string) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

// Label returns a lookup function over a label map for Selector.Matches.
func Label(labels map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := labels[k]
		return v, ok
	}
}

// PodFields are the field selector keys the pod list supports.
var PodFields = []string{"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase", "status.podIP"}

// PodField returns a lookup function over the selectable fields of p.
func PodField(p *Pod) func(string) (string, bool) {
	return func(k string) (string, bool) {
		switch k {
		case "metadata.name":
			return p.Name, true
		case "metadata.namespace":
			return p.Namespace, true
		case "spec.nodeName":
			return p.Spec.NodeName, true
		case "status.phase":
			return p.Status.Phase, true
		case "status.podIP":
			return p.Status.PodIP, true
		}
		return "", false
	}
}
