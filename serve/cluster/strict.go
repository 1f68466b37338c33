package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/porthole/porthole/kube"
)

// The API server's field validation of a patch (fieldValidation=Strict,
// Warn or Ignore): the patched object is decoded strictly, its unknown
// fields reported (and dropped, whatever the directive), together with
// what the patch itself has wrong (a field named twice; a JSON Patch
// operation's unknown member).

// Field validation directives, as the API server names them.
const (
	ValidationIgnore = "Ignore"
	ValidationWarn   = "Warn"
	ValidationStrict = "Strict"
)

// FieldsError is a patch refused by fieldValidation=Strict: the API
// server's 422 on the field "patch", whose value is Value.
type FieldsError struct {
	Value    string
	Problems []string
}

func (e *FieldsError) Error() string {
	return fmt.Sprintf("patch: Invalid value: %q: %s", e.Value, StrictDecodingError(e.Problems))
}

// StrictDecodingError is the API server's words for problems.
func StrictDecodingError(problems []string) string {
	return "strict decoding error: " + strings.Join(problems, ", ")
}

// patchFlavour is the kind of patch, which decides how the API server
// orders and words its problems.
type patchFlavour int

const (
	mergeFlavour patchFlavour = iota
	strategicFlavour
	jsonPatchFlavour
)

// validated wraps apply, the application of patch (of flavour), with
// field validation as opts direct it.
func validated(patch []byte, flavour patchFlavour, apply func(any) (any, error), opts []WriteOptions) func(any) (any, error) {
	o := options(opts)
	return func(doc any) (any, error) {
		dm, _ := doc.(map[string]any)
		apiVersion, _ := dm["apiVersion"].(string)
		kind, _ := dm["kind"].(string)
		patched, err := apply(doc)
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(patched)
		if err != nil {
			return nil, err
		}
		clean, problems := kube.StrictFields(apiVersion, kind, raw)
		if o.FieldValidation == ValidationStrict || o.FieldValidation == ValidationWarn {
			var before []string
			switch flavour {
			case strategicFlavour:
				// The API server converts the patched map, whose
				// problems it sorts; duplicates are the patch's.
				slices.Sort(problems)
				before = kube.DuplicateFields(patch)
			case mergeFlavour:
				before = kube.DuplicateFields(patch)
			case jsonPatchFlavour:
				before = kube.JSONPatchProblems(patch)
			}
			all := append(before, problems...)
			switch {
			case len(all) == 0:
			case o.FieldValidation == ValidationStrict:
				value := string(raw)
				if flavour == strategicFlavour {
					value = goMapString(patch)
				}
				return nil, &FieldsError{Value: value, Problems: all}
			case o.Warn != nil:
				for _, p := range all {
					o.Warn(p)
				}
			}
		}
		if len(problems) == 0 || bytes.Equal(clean, raw) {
			return patched, nil
		}
		var out any
		if err := json.Unmarshal(clean, &out); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// goMapString is a JSON document as Go's %+v prints it decoded (numbers
// that are integers as int64): the value the API server's strategic
// merge patch errors show.
func goMapString(doc []byte) string {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return string(doc)
	}
	return fmt.Sprintf("%+v", goValues(v))
}

func goValues(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = goValues(e)
		}
	case []any:
		for i, e := range t {
			t[i] = goValues(e)
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(t), 64)
		return f
	}
	return v
}

// jsonPatcher applies a JSON Patch, validated.
func jsonPatcher(patch []byte, opts []WriteOptions) func(any) (any, error) {
	return validated(patch, jsonPatchFlavour, func(doc any) (any, error) { return applyJSONPatch(doc, patch) }, opts)
}

// TypedError is an apply document the API server's typed conversion
// refuses: a 500 with no reason, as the API server answers it.
type TypedError struct{ Msg string }

func (e *TypedError) Error() string { return e.Msg }

// CheckApplied refuses an apply document (JSON) of kind naming a field
// its kind has not, as the API server's conversion of it to the kind's
// type does: whatever fieldValidation says, in its words (failed to create
// typed patch object (/name; apps/v1, Kind=Deployment):
// .spec.template.spec.containers[name="main"].imag: field not declared in
// schema). Like it, it names one such field of an object, after those
// of the objects within; unlike it (which goes through an object's fields
// in no set order, and stops at the first unknown), always the first in
// sorted order, after going through all the others.
func CheckApplied(kind, apiVersion string, cfg []byte) error {
	desc, ok := kube.KindFields(apiVersion, kind)
	if !ok {
		return nil
	}
	var doc any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil // the apply says what is wrong with it
	}
	problems := undeclared(schemaFor(kind), desc, "", doc)
	if len(problems) == 0 {
		return nil
	}
	msg := problems[0]
	if len(problems) > 1 {
		msg = "errors:\n  " + strings.Join(problems, "\n  ")
	}
	meta, _ := doc.(map[string]any)["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group, version = "", apiVersion
	}
	return &TypedError{Msg: fmt.Sprintf("failed to create typed patch object (%s/%s; %s/%s, Kind=%s): %s", ns, name, group, version, kind, msg)}
}

// undeclared are the fields of v (at p, described by desc) that its type
// has not, one an object at most.
func undeclared(sc *schema, desc string, p fieldPath, v any) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		first := ""
		for _, k := range slices.Sorted(maps.Keys(t)) {
			sub, ok := kube.Field(desc, k)
			switch {
			case ok:
				out = append(out, undeclared(sc, sub, p.child(fieldElem(k)), t[k])...)
			case first == "":
				first = k
			}
		}
		if first != "" {
			out = append(out, p.child(fieldElem(first)).String()+": field not declared in schema")
		}
	case []any:
		name, elem := fieldName(p), kube.Elem(desc)
		for i, e := range t {
			ep := p.child("i:" + strconv.Itoa(i))
			if keys := sc.keys[name]; keys != nil {
				if k := keyOfElem(e, keys); k != "" {
					ep = p.child(k)
				}
			} else if sc.sets[name] {
				ep = p.child(valueElem(e))
			}
			out = append(out, undeclared(sc, elem, ep, e)...)
		}
	}
	return out
}
