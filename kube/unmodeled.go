package kube

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// The spec of a Deployment, Service or Namespace may hold fields porthole
// does not model (volumes, tolerations, publishNotReadyAddresses, ...). The API
// server keeps whatever its schema knows and serves it back; porthole keeps
// them too, as sent, in the object's Unmodeled field, and writes them
// back in its JSON, so that kubectl get -o yaml shows what was applied
// and kubectl apply of the same manifest says unchanged. Nothing acts on
// them (the embedded runtime runs no limits, mounts no volumes).
//
// Unmodeled is the spec's JSON with every value the spec's Go type models
// taken out: objects keep only their unmodeled keys (and modeled keys
// whose values have unmodeled parts), lists keep their length, with nil
// for elements that have nothing unmodeled.

// decodeKeepingSpec decodes b into v, a kube type without its JSON
// methods whose spec is of type t, and returns the spec's remainder.
func decodeKeepingSpec(b []byte, v any, t reflect.Type) (any, error) {
	if err := json.Unmarshal(b, v); err != nil {
		return nil, err
	}
	return specRemainder(b, t)
}

// specRemainder reads a JSON object's spec and returns what its type t
// does not model, or nil.
func specRemainder(b []byte, t reflect.Type) (any, error) {
	var doc struct {
		Spec any `json:"spec"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	return remainder(t, doc.Spec), nil
}

// withSpecRemainder is the JSON of v (whose spec is of type t) with rest
// written back into its spec.
func withSpecRemainder(v any, t reflect.Type, rest any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || rest == nil {
		return b, err
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	doc["spec"] = overlay(t, doc["spec"], rest)
	return json.Marshal(doc)
}

// remainder is the part of doc, a JSON value, that type t does not model:
// nil when t models all of it.
func remainder(t reflect.Type, doc any) any {
	t = leaf(t)
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		var out map[string]any
		for k, v := range m {
			r := v
			if ft, modeled := fields[k]; modeled {
				r = remainder(ft, v)
			}
			if r == nil {
				continue
			}
			if out == nil {
				out = make(map[string]any)
			}
			out[k] = r
		}
		if out == nil {
			return nil
		}
		return out
	case reflect.Slice:
		l, ok := doc.([]any)
		if !ok {
			return nil
		}
		out, some := make([]any, len(l)), false
		for i, v := range l {
			out[i] = remainder(t.Elem(), v)
			some = some || out[i] != nil
		}
		if !some {
			return nil
		}
		return out
	}
	return nil
}

// overlay is typed, the JSON value of a t, with rest (a remainder of the
// same type) written back in. A list whose length changed since rest was
// taken keeps no remainder: its elements cannot be told apart.
func overlay(t reflect.Type, typed, rest any) any {
	t = leaf(t)
	if rest == nil || t == nil {
		return typed
	}
	switch t.Kind() {
	case reflect.Struct:
		rm, ok := rest.(map[string]any)
		tm, isMap := typed.(map[string]any)
		if !ok || typed != nil && !isMap {
			return typed
		}
		fields := jsonFields(t)
		out := make(map[string]any, len(tm)+len(rm))
		for k, v := range tm {
			out[k] = v
		}
		for k, r := range rm {
			ft, modeled := fields[k]
			switch tv, present := tm[k]; {
			case !modeled:
				out[k] = r
			case present:
				out[k] = overlay(ft, tv, r)
			}
			// A modeled value gone since goes with its unmodeled parts.
		}
		return out
	case reflect.Slice:
		rl, ok := rest.([]any)
		tl, isList := typed.([]any)
		if !ok || !isList || len(rl) != len(tl) {
			return typed
		}
		out := make([]any, len(tl))
		for i := range tl {
			out[i] = overlay(t.Elem(), tl[i], rl[i])
		}
		return out
	}
	return typed
}

var (
	marshaler   = reflect.TypeFor[json.Marshaler]()
	unmarshaler = reflect.TypeFor[json.Unmarshaler]()
)

// leaf is t without pointers, or nil when t encodes itself (IntOrString)
// and so models whatever it reads.
func leaf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(marshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	return t
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields are the JSON keys a struct type models, with their types:
// those of embedded structs without a name are the struct's own, as
// encoding/json has them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := make(map[string]reflect.Type)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					fields[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	fieldCache.Store(t, fields)
	return fields
}
