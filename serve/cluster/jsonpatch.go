package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// JSON Patch (RFC 6902), which kubectl rollout undo sends: a list of
// operations (add, remove, replace, move, copy, test) on JSON Pointer
// (RFC 6901) paths, applied in order, all or nothing.

// Bounds of one JSON Patch: its operations, and the values its copy
// operations may duplicate in all. A copy can take the whole document, so
// without the second, a thousand copies of "" into it double it a
// thousand times.
const (
	maxPatchOps    = 1000
	maxCopiedNodes = 1 << 16
)

// PatchError is a well-formed patch that does not apply to the object (the
// API server's 422).
type PatchError struct{ Msg string }

func (e *PatchError) Error() string { return e.Msg }

// errPathNotFound is an operation on a location that does not exist.
var errPathNotFound = errors.New("path not found")

// applyJSONPatch applies the JSON Patch document patch to doc, a decoded
// JSON value it may modify, and returns the result. A patch that does not
// apply (a missing path, a failed test) is a *PatchError.
func applyJSONPatch(doc any, patch []byte) (any, error) {
	var ops []map[string]json.RawMessage
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, fmt.Errorf("decode JSON patch: %w", err)
	}
	if len(ops) > maxPatchOps {
		return nil, fmt.Errorf("decode JSON patch: %d operations, more than %d", len(ops), maxPatchOps)
	}
	budget := maxCopiedNodes
	for i, op := range ops {
		var err error
		if doc, err = applyOp(doc, op, &budget); err != nil {
			return nil, &PatchError{Msg: fmt.Sprintf("the JSON patch does not apply: operation %d: %v", i, err)}
		}
	}
	return doc, nil
}

// applyOp applies one operation; budget is what copies may still
// duplicate, in JSON values.
func applyOp(doc any, op map[string]json.RawMessage, budget *int) (any, error) {
	var name, path string
	if err := json.Unmarshal(op["op"], &name); err != nil {
		return nil, errors.New(`missing or invalid "op"`)
	}
	if err := json.Unmarshal(op["path"], &path); err != nil {
		return nil, errors.New(`missing or invalid "path"`)
	}
	toks, err := pointer(path)
	if err != nil {
		return nil, err
	}
	value := func() (any, error) {
		raw, ok := op["value"]
		if !ok {
			return nil, fmt.Errorf("%s: missing \"value\"", name)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s: invalid \"value\": %w", name, err)
		}
		if depth(v, 0) > maxPatchDepth {
			return nil, fmt.Errorf("%s: value nested deeper than %d", name, maxPatchDepth)
		}
		return v, nil
	}
	from := func() ([]string, error) {
		var f string
		if err := json.Unmarshal(op["from"], &f); err != nil {
			return nil, fmt.Errorf(`%s: missing or invalid "from"`, name)
		}
		return pointer(f)
	}
	switch name {
	case "add", "replace":
		v, err := value()
		if err != nil {
			return nil, err
		}
		if name == "add" {
			return add(doc, toks, v)
		}
		return replace(doc, toks, v)
	case "remove":
		doc, _, err := remove(doc, toks)
		return doc, err
	case "test":
		want, err := value()
		if err != nil {
			return nil, err
		}
		got, err := get(doc, toks)
		if err != nil {
			return nil, err
		}
		if !reflect.DeepEqual(got, want) {
			return nil, fmt.Errorf("test of %q failed", path)
		}
		return doc, nil
	case "move":
		src, err := from()
		if err != nil {
			return nil, err
		}
		if len(toks) > len(src) && slicesHasPrefix(toks, src) {
			return nil, errors.New("move: a location cannot move into one of its children")
		}
		doc, v, err := remove(doc, src)
		if err != nil {
			return nil, err
		}
		return add(doc, toks, v)
	case "copy":
		src, err := from()
		if err != nil {
			return nil, err
		}
		v, err := get(doc, src)
		if err != nil {
			return nil, err
		}
		if *budget -= nodes(v, *budget+1); *budget < 0 {
			return nil, fmt.Errorf("copy: the patch copies more than %d values", maxCopiedNodes)
		}
		return add(doc, toks, deepCopy(v))
	}
	return nil, fmt.Errorf("unknown op %q", name)
}

// pointer splits a JSON Pointer into its unescaped reference tokens.
func pointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q does not start with /", p)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		if strings.Contains(strings.NewReplacer("~0", "", "~1", "").Replace(t), "~") {
			return nil, fmt.Errorf("path %q: invalid escape", p)
		}
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

func get(doc any, toks []string) (any, error) {
	for _, t := range toks {
		switch c := doc.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, errPathNotFound
			}
			doc = v
		case []any:
			i, err := index(t, len(c)-1)
			if err != nil {
				return nil, err
			}
			doc = c[i]
		default:
			return nil, errPathNotFound
		}
	}
	return doc, nil
}

// index parses an array index no greater than last.
func index(t string, last int) (int, error) {
	if t == "" || (len(t) > 1 && t[0] == '0') {
		return 0, fmt.Errorf("invalid array index %q", t)
	}
	i, err := strconv.Atoi(t)
	if err != nil || i < 0 || i > last {
		return 0, fmt.Errorf("array index %q out of range", t)
	}
	return i, nil
}

// at changes the location toks of doc with f, which gets the location's
// container and last token and returns the new container.
func at(doc any, toks []string, f func(parent any, key string) (any, error)) (any, error) {
	if len(toks) == 1 {
		return f(doc, toks[0])
	}
	switch c := doc.(type) {
	case map[string]any:
		child, ok := c[toks[0]]
		if !ok {
			return nil, errPathNotFound
		}
		n, err := at(child, toks[1:], f)
		if err != nil {
			return nil, err
		}
		c[toks[0]] = n
		return c, nil
	case []any:
		i, err := index(toks[0], len(c)-1)
		if err != nil {
			return nil, err
		}
		n, err := at(c[i], toks[1:], f)
		if err != nil {
			return nil, err
		}
		c[i] = n
		return c, nil
	}
	return nil, errPathNotFound
}

func add(doc any, toks []string, v any) (any, error) {
	if len(toks) == 0 {
		return v, nil
	}
	return at(doc, toks, func(parent any, key string) (any, error) {
		switch c := parent.(type) {
		case map[string]any:
			c[key] = v
			return c, nil
		case []any:
			if key == "-" {
				return append(c, v), nil
			}
			i, err := index(key, len(c))
			if err != nil {
				return nil, err
			}
			return append(c[:i], append([]any{v}, c[i:]...)...), nil
		}
		return nil, errPathNotFound
	})
}

func replace(doc any, toks []string, v any) (any, error) {
	if len(toks) == 0 {
		return v, nil
	}
	return at(doc, toks, func(parent any, key string) (any, error) {
		switch c := parent.(type) {
		case map[string]any:
			if _, ok := c[key]; !ok {
				return nil, errPathNotFound
			}
			c[key] = v
			return c, nil
		case []any:
			i, err := index(key, len(c)-1)
			if err != nil {
				return nil, err
			}
			c[i] = v
			return c, nil
		}
		return nil, errPathNotFound
	})
}

// remove removes the location and returns the document and what was there.
func remove(doc any, toks []string) (any, any, error) {
	if len(toks) == 0 {
		return nil, nil, errors.New("remove: cannot remove the whole document")
	}
	var removed any
	doc, err := at(doc, toks, func(parent any, key string) (any, error) {
		switch c := parent.(type) {
		case map[string]any:
			v, ok := c[key]
			if !ok {
				return nil, errPathNotFound
			}
			removed = v
			delete(c, key)
			return c, nil
		case []any:
			i, err := index(key, len(c)-1)
			if err != nil {
				return nil, err
			}
			removed = c[i]
			return append(c[:i:i], c[i+1:]...), nil
		}
		return nil, errPathNotFound
	})
	return doc, removed, err
}

// nodes counts the JSON values in v, stopping past limit.
func nodes(v any, limit int) int {
	n := 1
	switch c := v.(type) {
	case map[string]any:
		for _, e := range c {
			if n > limit {
				break
			}
			n += nodes(e, limit-n)
		}
	case []any:
		for _, e := range c {
			if n > limit {
				break
			}
			n += nodes(e, limit-n)
		}
	}
	return n
}

func deepCopy(v any) any {
	switch c := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(c))
		for k, e := range c {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(c))
		for i, e := range c {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

func slicesHasPrefix(s, prefix []string) bool {
	if len(prefix) > len(s) {
		return false
	}
	for i := range prefix {
		if s[i] != prefix[i] {
			return false
		}
	}
	return true
}
