// Package fieldschema checks porthole's table of the API's field names
// (kube/fieldschema.json), which serve's strict field validation walks,
// against the Go types the API server decodes into: the table must say
// exactly what the types say. With -update it writes the table from them.
package fieldschema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "write ../../kube/fieldschema.json from the API's types")

const table = "../../kube/fieldschema.json"

// kinds are the kinds serve writes, by apiVersion and kind.
var kinds = map[string]any{
	"v1/ConfigMap":         corev1.ConfigMap{},
	"v1/Namespace":         corev1.Namespace{},
	"v1/Pod":               corev1.Pod{},
	"v1/Service":           corev1.Service{},
	"v1/Secret":            corev1.Secret{},
	"apps/v1/Deployment":   appsv1.Deployment{},
	"autoscaling/v1/Scale": autoscalingv1.Scale{},
}

// schema is the table: each kind's type, and each type's fields. A
// field's value says what the JSON decoder does with it: "" reads it
// whole (a scalar, or a type that decodes itself: quantities, times,
// int-or-strings, raw JSON); a type's name descends into its fields;
// "[]" and "{}" before either are a list and a map of those; "*" is
// free-form JSON (read for duplicate keys only).
type schema struct {
	Kinds map[string]string            `json:"kinds"`
	Types map[string]map[string]string `json:"types"`
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

func TestFieldSchema(t *testing.T) {
	s := schema{Kinds: map[string]string{}, Types: map[string]map[string]string{}}
	for k, v := range kinds {
		s.Kinds[k] = s.describe(reflect.TypeOf(v))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(table, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Errorf("%s is not what the API's types say; go test ./fieldschema -update writes it", table)
	}
	// The table must know the fields a manifest names most, and not
	// take what no type has.
	for _, c := range []struct{ typ, field, want string }{
		{"core/v1.Pod", "spec", "core/v1.PodSpec"},
		{"core/v1.PodSpec", "containers", "[]core/v1.Container"},
		{"core/v1.Container", "resources", "core/v1.ResourceRequirements"},
		{"core/v1.ResourceRequirements", "limits", "{}"},
		{"core/v1.ConfigMap", "apiVersion", ""},
		{"core/v1.ConfigMap", "data", "{}"},
		{"meta/v1.ObjectMeta", "creationTimestamp", ""},
		{"meta/v1.ObjectMeta", "managedFields", "[]meta/v1.ManagedFieldsEntry"},
		{"meta/v1.ManagedFieldsEntry", "fieldsV1", ""},
		{"core/v1.ServicePort", "targetPort", ""},
	} {
		got, ok := s.Types[c.typ][c.field]
		if !ok || got != c.want {
			t.Errorf("%s.%s = %q, %v; want %q", c.typ, c.field, got, ok, c.want)
		}
	}
	if _, ok := s.Types["core/v1.ConfigMap"]["TypeMeta"]; ok {
		t.Error("an inlined struct is a field of its own")
	}
}

// describe is how the table names a value of type t, adding the
// structs it reaches to s.Types.
func (s *schema) describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) || t.Implements(unmarshaler) {
		return ""
	}
	switch t.Kind() {
	case reflect.Struct:
		name := typeName(t)
		if _, ok := s.Types[name]; !ok {
			s.Types[name] = map[string]string{} // before its fields: types may recur
			s.fields(t, s.Types[name])
		}
		return name
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "" // base64
		}
		return "[]" + s.describe(t.Elem())
	case reflect.Map:
		return "{}" + s.describe(t.Elem())
	case reflect.Interface:
		return "*"
	}
	return ""
}

// fields adds t's JSON fields to into, those of inlined structs too.
func (s *schema) fields(t reflect.Type, into map[string]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" && f.Anonymous {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			s.fields(ft, into)
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = s.describe(f.Type)
	}
}

// typeName is t's package's last two elements and its name:
// core/v1.Pod, meta/v1.ObjectMeta.
func typeName(t reflect.Type) string {
	parts := strings.Split(t.PkgPath(), "/")
	if len(parts) >= 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/") + "." + t.Name()
}
