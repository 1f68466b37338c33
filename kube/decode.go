package kube

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxManifestSize bounds what DecodePods reads from one source, so a runaway
// stdin or a huge file fails with an error instead of exhausting memory.
const MaxManifestSize = 8 << 20

// DefaultNamespace is the namespace of a manifest that names none, as kubectl
// does with a context that sets none.
const DefaultNamespace = "default"

// LocalNodeName is the node the local runtime's pods report they run on,
// and whose kubelet paths serve answers.
const LocalNodeName = "porthole"

// DecodeError is a manifest that cannot be used. Source is the file name given
// to DecodePods, Doc the 1-based document index within it (0 when the source
// as a whole is at fault) and Field the JSON path of the offending field.
type DecodeError struct {
	Source string
	Doc    int
	Field  string
	Msg    string
}

func (e *DecodeError) Error() string {
	var b bytes.Buffer
	b.WriteString(e.Source)
	if e.Doc > 0 {
		fmt.Fprintf(&b, ": document %d", e.Doc)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Objects are what a manifest holds, each kind in manifest order.
type Objects struct {
	Pods        []*Pod        `json:"pods,omitempty"`
	Services    []*Service    `json:"services,omitempty"`
	Deployments []*Deployment `json:"deployments,omitempty"`
	ReplicaSets []*ReplicaSet `json:"replicaSets,omitempty"`
	Namespaces  []*Namespace  `json:"namespaces,omitempty"`
	ConfigMaps  []*ConfigMap  `json:"configMaps,omitempty"`
	Secrets     []*Secret     `json:"secrets,omitempty"`
}

// Len is the number of objects.
func (o *Objects) Len() int {
	return len(o.Pods) + len(o.Services) + len(o.Deployments) + len(o.ReplicaSets) + len(o.Namespaces) + len(o.ConfigMaps) + len(o.Secrets)
}

// Append adds b's objects after o's.
func (o *Objects) Append(b *Objects) {
	o.Pods = append(o.Pods, b.Pods...)
	o.Services = append(o.Services, b.Services...)
	o.Deployments = append(o.Deployments, b.Deployments...)
	o.ReplicaSets = append(o.ReplicaSets, b.ReplicaSets...)
	o.Namespaces = append(o.Namespaces, b.Namespaces...)
	o.ConfigMaps = append(o.ConfigMaps, b.ConfigMaps...)
	o.Secrets = append(o.Secrets, b.Secrets...)
}

// DecodePods is Decode for a manifest that may hold only pods.
func DecodePods(r io.Reader, source string) ([]*Pod, error) {
	objs, err := Decode(r, source)
	if err != nil {
		return nil, err
	}
	if objs.Len() != len(objs.Pods) {
		return nil, &DecodeError{Source: source, Msg: "only pods are accepted here"}
	}
	return objs.Pods, nil
}

// Decode reads the objects of a manifest: YAML or JSON, any number of
// documents separated by "---", each a v1 Pod, Service, Namespace, ConfigMap or Secret, an
// apps/v1 Deployment or ReplicaSet, or a v1 List (or PodList) of them.
// Empty documents are skipped. An object without a namespace gets
// DefaultNamespace. Fields porthole does not model are ignored; everything
// it does model is validated (see Validate), and the first problem is
// returned as a *DecodeError naming source, document and field. Input is
// limited to MaxManifestSize bytes.
//
// Each document is decoded by yaml.v3 into generic values and re-encoded as
// JSON before it is unmarshalled, so the json tags of the types are the only
// description of the wire format.
func Decode(r io.Reader, source string) (*Objects, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxManifestSize+1))
	if err != nil {
		return nil, &DecodeError{Source: source, Msg: fmt.Sprintf("read: %v", err)}
	}
	if len(data) > MaxManifestSize {
		return nil, &DecodeError{Source: source, Msg: fmt.Sprintf("larger than %d bytes", MaxManifestSize)}
	}
	docs, err := splitDocuments(data, source)
	if err != nil {
		return nil, err
	}
	objs := &Objects{}
	seen := make(map[string]int)
	for i, doc := range docs {
		n := i + 1
		got, err := decodeDocument(doc, source, n)
		if err != nil {
			return nil, err
		}
		for _, o := range got {
			m := o.obj.Meta()
			key := o.kind + "/" + m.Namespace + "/" + m.Name
			if prev, dup := seen[key]; dup {
				return nil, &DecodeError{Source: source, Doc: n, Field: "metadata.name",
					Msg: fmt.Sprintf("duplicate %s %q in namespace %q (first in document %d)", strings.ToLower(o.kind), m.Name, m.Namespace, prev)}
			}
			seen[key] = n
			switch v := o.obj.(type) {
			case *Pod:
				objs.Pods = append(objs.Pods, v)
			case *Service:
				objs.Services = append(objs.Services, v)
			case *Deployment:
				objs.Deployments = append(objs.Deployments, v)
			case *ReplicaSet:
				objs.ReplicaSets = append(objs.ReplicaSets, v)
			case *Namespace:
				objs.Namespaces = append(objs.Namespaces, v)
			case *ConfigMap:
				objs.ConfigMaps = append(objs.ConfigMaps, v)
			case *Secret:
				objs.Secrets = append(objs.Secrets, v)
			}
		}
	}
	return objs, nil
}

// splitDocuments parses every YAML document into generic JSON-compatible
// values; a nil element is an empty document, kept so indexes stay right.
// JSON (one value or a stream of them) is read as JSON, as kubectl reads
// it: YAML folds the line breaks it knows (U+0085, U+2028, U+2029) in a
// JSON string into spaces.
func splitDocuments(data []byte, source string) (docs []any, err error) {
	if docs, ok := jsonDocuments(data); ok {
		return docs, nil
	}
	defer func() {
		// yaml.v3 has panicked on hostile input before (CVE-2022-28948);
		// a manifest must never take the process down.
		if r := recover(); r != nil {
			err = &DecodeError{Source: source, Doc: len(docs) + 1, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, &DecodeError{Source: source, Doc: len(docs) + 1, Msg: fmt.Sprintf("invalid YAML: %v", err)}
		}
		v, err = jsonValue(v, "")
		if err != nil {
			return nil, &DecodeError{Source: source, Doc: len(docs) + 1, Msg: err.Error()}
		}
		docs = append(docs, v)
	}
}

// jsonDocuments reads data as a stream of JSON values when it starts
// like JSON and is JSON throughout; ok is false otherwise (YAML's flow
// style starts with '{' too).
func jsonDocuments(data []byte) (docs []any, ok bool) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' && t[0] != '[' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // integers stay exact
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs, true
		}
		if err != nil {
			return nil, false
		}
		docs = append(docs, v) // null is an empty document, as in YAML
	}
}

// jsonValue converts what yaml.v3 produces for an untyped target into values
// encoding/json accepts: string map keys, no NaN or infinities, timestamps as
// RFC 3339 strings.
func jsonValue(v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := jsonValue(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: map key %v is not a string", fieldPath(path), k)
			}
			c, err := jsonValue(e, path+"."+ks)
			if err != nil {
				return nil, err
			}
			m[ks] = c
		}
		return m, nil
	case []any:
		for i, e := range t {
			c, err := jsonValue(e, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%s: %v is not a JSON number", fieldPath(path), t)
		}
		return t, nil
	case time.Time:
		return t.UTC().Format(time.RFC3339), nil
	case []byte: // !!binary
		return string(t), nil
	default:
		return v, nil
	}
}

func fieldPath(p string) string {
	if p == "" {
		return "(document)"
	}
	if p[0] == '.' {
		return p[1:]
	}
	return p
}

// header is what every document must say about itself.
type header struct {
	TypeMeta `json:",inline"`
	Items    []json.RawMessage `json:"items"`
}

// object is one decoded object and its kind.
type object struct {
	kind string
	obj  interface{ Meta() *ObjectMeta }
}

// kindVersions maps each kind a manifest may hold to its apiVersion.
var kindVersions = map[string]string{
	"Pod": "v1", "Service": "v1", "Deployment": "apps/v1", "ReplicaSet": "apps/v1", "Namespace": "v1",
	"ConfigMap": "v1", "Secret": "v1",
}

const supportedKinds = "v1 Pod, v1 Service, apps/v1 Deployment, apps/v1 ReplicaSet, v1 Namespace, v1 ConfigMap, v1 Secret and v1 List"

func decodeDocument(doc any, source string, n int) ([]object, error) {
	if doc == nil {
		return nil, nil
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, &DecodeError{Source: source, Doc: n, Msg: "not an object"}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, &DecodeError{Source: source, Doc: n, Msg: fmt.Sprintf("encode as JSON: %v", err)}
	}
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, &DecodeError{Source: source, Doc: n, Msg: jsonMsg(err)}
	}
	switch {
	case h.Kind == "":
		return nil, &DecodeError{Source: source, Doc: n, Field: "kind", Msg: "required"}
	case h.APIVersion == "":
		return nil, &DecodeError{Source: source, Doc: n, Field: "apiVersion", Msg: "required"}
	}
	switch h.Kind {
	case "List", "PodList":
		if h.APIVersion != "v1" {
			return nil, &DecodeError{Source: source, Doc: n, Field: "apiVersion",
				Msg: fmt.Sprintf("no matches for kind %q in version %q", h.Kind, h.APIVersion)}
		}
		out := make([]object, 0, len(h.Items))
		for i, item := range h.Items {
			o, err := decodeItem(item, h.Kind, fmt.Sprintf("items[%d].", i))
			if err != nil {
				return nil, err.at(source, n)
			}
			out = append(out, o)
		}
		return out, nil
	}
	want, known := kindVersions[h.Kind]
	switch {
	case !known:
		return nil, &DecodeError{Source: source, Doc: n, Field: "kind",
			Msg: fmt.Sprintf("unsupported kind %q: only %s are supported", h.Kind, supportedKinds)}
	case h.APIVersion != want:
		return nil, &DecodeError{Source: source, Doc: n, Field: "apiVersion",
			Msg: fmt.Sprintf("no matches for kind %q in version %q (want %q)", h.Kind, h.APIVersion, want)}
	}
	o, ferr := decodeKind(raw, h.Kind, "")
	if ferr != nil {
		return nil, ferr.at(source, n)
	}
	return []object{o}, nil
}

func decodeItem(raw json.RawMessage, listKind, prefix string) (object, *fieldError) {
	var h TypeMeta
	if err := json.Unmarshal(raw, &h); err != nil {
		return object{}, &fieldError{field: prefix[:len(prefix)-1], msg: jsonMsg(err)}
	}
	if listKind == "PodList" {
		if h.Kind != "Pod" && h.Kind != "" {
			return object{}, &fieldError{field: prefix + "kind", msg: fmt.Sprintf("unsupported kind %q: a PodList may hold only v1 Pods", h.Kind)}
		}
		if h.APIVersion != "v1" && h.APIVersion != "" {
			return object{}, &fieldError{field: prefix + "apiVersion", msg: fmt.Sprintf("unsupported apiVersion %q: a PodList may hold only v1 Pods", h.APIVersion)}
		}
		h.Kind, h.APIVersion = "Pod", "v1"
	}
	want, known := kindVersions[h.Kind]
	switch {
	case !known:
		return object{}, &fieldError{field: prefix + "kind", msg: fmt.Sprintf("unsupported kind %q: a list may hold only %s", h.Kind, strings.TrimSuffix(supportedKinds, " and v1 List"))}
	case h.APIVersion != want:
		return object{}, &fieldError{field: prefix + "apiVersion", msg: fmt.Sprintf("no matches for kind %q in version %q (want %q)", h.Kind, h.APIVersion, want)}
	}
	o, err := decodeKind(raw, h.Kind, prefix)
	if err != nil {
		return object{}, err
	}
	tm := TypeMeta{Kind: h.Kind, APIVersion: want}
	switch v := o.obj.(type) {
	case *Pod:
		v.TypeMeta = tm
	case *Service:
		v.TypeMeta = tm
	case *Deployment:
		v.TypeMeta = tm
	case *ReplicaSet:
		v.TypeMeta = tm
	case *Namespace:
		v.TypeMeta = tm
	case *ConfigMap:
		v.TypeMeta = tm
	case *Secret:
		v.TypeMeta = tm
	}
	return o, nil
}

// decodeKind unmarshals raw as kind, defaults its namespace and validates
// it.
func decodeKind(raw []byte, kind, prefix string) (object, *fieldError) {
	var obj interface{ Meta() *ObjectMeta }
	var validate func() *fieldError
	switch kind {
	case "Pod":
		p := new(Pod)
		obj, validate = p, func() *fieldError { return validatePod(p) }
	case "Service":
		s := new(Service)
		obj, validate = s, func() *fieldError { return validateService(s) }
	case "Deployment":
		d := new(Deployment)
		obj, validate = d, func() *fieldError {
			return validateWorkload(&d.ObjectMeta, d.Spec.Replicas, d.Spec.Selector, &d.Spec.Template)
		}
	case "ReplicaSet":
		rs := new(ReplicaSet)
		obj, validate = rs, func() *fieldError {
			return validateWorkload(&rs.ObjectMeta, rs.Spec.Replicas, rs.Spec.Selector, &rs.Spec.Template)
		}
	case "Namespace":
		ns := new(Namespace)
		obj, validate = ns, func() *fieldError { return validateNamespace(ns) }
	case "ConfigMap":
		cm := new(ConfigMap)
		obj, validate = cm, func() *fieldError { return first(validateConfigMap(cm)) }
	case "Secret":
		s := new(Secret)
		obj, validate = s, func() *fieldError {
			s.FoldStringData()
			return first(validateSecret(s))
		}
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return object{}, &fieldError{field: prefix + te.Field, msg: fmt.Sprintf("cannot use a JSON %s as %s", te.Value, te.Type)}
		}
		var be base64.CorruptInputError
		if errors.As(err, &be) && (kind == "ConfigMap" || kind == "Secret") { // the only bytes a manifest holds
			return object{}, &fieldError{field: prefix + map[string]string{"ConfigMap": "binaryData", "Secret": "data"}[kind], msg: err.Error()}
		}
		return object{}, &fieldError{field: trimDot(prefix), msg: jsonMsg(err)}
	}
	switch m := obj.Meta(); {
	case kind == "Namespace":
		m.Namespace = "" // not in one, as the API server has it
	case m.Namespace == "":
		m.Namespace = DefaultNamespace
	}
	if fe := validate(); fe != nil {
		if fe.field == "[]" { // the whole object's, as the API server names it
			fe.field = ""
		}
		fe.field = trimDot(prefix + fe.field)
		return object{}, fe
	}
	return object{kind: kind, obj: obj}, nil
}

// first is the first of errs, or nil: a manifest's problems are told
// one at a time.
func first(errs []*fieldError) *fieldError {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

func trimDot(s string) string {
	if s != "" && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

func jsonMsg(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("cannot use a JSON %s as %s", te.Value, te.Type)
	}
	return err.Error()
}

// fieldError is a problem found inside one document, before the source and
// document index are known.
type fieldError struct {
	field, msg string
}

func (e *fieldError) at(source string, doc int) *DecodeError {
	return &DecodeError{Source: source, Doc: doc, Field: e.field, Msg: e.msg}
}
