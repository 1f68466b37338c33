package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
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

// DecodePods reads the pods of a manifest: YAML or JSON, any number of
// documents separated by "---", each a v1 Pod or a v1 List (or PodList) of
// Pods. Empty documents are skipped. A pod without a namespace gets
// DefaultNamespace. Fields porthole does not model are ignored; everything it
// does model is validated (see Validate), and the first problem is returned as
// a *DecodeError naming source, document and field. Input is limited to
// MaxManifestSize bytes.
//
// Each document is decoded by yaml.v3 into generic values and re-encoded as
// JSON before it is unmarshalled, so the json tags of the types are the only
// description of the wire format.
func DecodePods(r io.Reader, source string) ([]*Pod, error) {
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
	var pods []*Pod
	seen := make(map[string]int)
	for i, doc := range docs {
		n := i + 1
		got, err := decodeDocument(doc, source, n)
		if err != nil {
			return nil, err
		}
		for _, p := range got {
			key := p.Namespace + "/" + p.Name
			if prev, dup := seen[key]; dup {
				return nil, &DecodeError{Source: source, Doc: n, Field: "metadata.name",
					Msg: fmt.Sprintf("duplicate pod %q in namespace %q (first in document %d)", p.Name, p.Namespace, prev)}
			}
			seen[key] = n
			pods = append(pods, p)
		}
	}
	return pods, nil
}

// splitDocuments parses every YAML document into generic JSON-compatible
// values; a nil element is an empty document, kept so indexes stay right.
func splitDocuments(data []byte, source string) (docs []any, err error) {
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

func decodeDocument(doc any, source string, n int) ([]*Pod, error) {
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
	case h.APIVersion != "v1":
		return nil, &DecodeError{Source: source, Doc: n, Field: "apiVersion",
			Msg: fmt.Sprintf("unsupported %s %q: only v1 Pod, List and PodList are supported", h.Kind, h.APIVersion)}
	}
	switch h.Kind {
	case "Pod":
		p, err := decodePod(raw, "")
		if err != nil {
			return nil, err.at(source, n)
		}
		return []*Pod{p}, nil
	case "List", "PodList":
		pods := make([]*Pod, 0, len(h.Items))
		for i, item := range h.Items {
			p, err := decodeItem(item, h.Kind, fmt.Sprintf("items[%d].", i))
			if err != nil {
				return nil, err.at(source, n)
			}
			pods = append(pods, p)
		}
		return pods, nil
	default:
		return nil, &DecodeError{Source: source, Doc: n, Field: "kind",
			Msg: fmt.Sprintf("unsupported kind %q: only v1 Pod, List and PodList are supported", h.Kind)}
	}
}

func decodeItem(raw json.RawMessage, listKind, prefix string) (*Pod, *fieldError) {
	var h TypeMeta
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, &fieldError{field: prefix[:len(prefix)-1], msg: jsonMsg(err)}
	}
	kindOK := h.Kind == "Pod" || (listKind == "PodList" && h.Kind == "")
	if !kindOK {
		return nil, &fieldError{field: prefix + "kind", msg: fmt.Sprintf("unsupported kind %q: a list may hold only v1 Pods", h.Kind)}
	}
	if h.APIVersion != "v1" && !(listKind == "PodList" && h.APIVersion == "") {
		return nil, &fieldError{field: prefix + "apiVersion", msg: fmt.Sprintf("unsupported apiVersion %q: a list may hold only v1 Pods", h.APIVersion)}
	}
	p, err := decodePod(raw, prefix)
	if err != nil {
		return nil, err
	}
	p.Kind, p.APIVersion = "Pod", "v1"
	return p, nil
}

func decodePod(raw []byte, prefix string) (*Pod, *fieldError) {
	var p Pod
	if err := json.Unmarshal(raw, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, &fieldError{field: prefix + te.Field, msg: fmt.Sprintf("cannot use a JSON %s as %s", te.Value, te.Type)}
		}
		return nil, &fieldError{field: trimDot(prefix), msg: jsonMsg(err)}
	}
	if p.Namespace == "" {
		p.Namespace = DefaultNamespace
	}
	if fe := validatePod(&p); fe != nil {
		fe.field = prefix + fe.field
		return nil, fe
	}
	return &p, nil
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
