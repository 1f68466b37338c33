package kube

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Strict field validation, as the API server's decoder does it
// (fieldValidation=Strict or Warn): a body naming a field its kind has
// not, or naming a field twice, is refused or warned of; the fields no
// type has are dropped whatever the directive, and matched case
// sensitively (Go's encoding/json, which porthole decodes with, folds
// case: "Labels" would be read as labels).
//
// The API's field names come from fieldschema.json, which the interop
// suite writes from the Go types the API server decodes into and
// checks against them (see interop/fieldschema). A field there is ""
// for a value read whole (a scalar, or a type that decodes itself: a
// quantity, a time, an int-or-string), a type's name for an object of
// its fields, "[]" or "{}" before either for a list or a map of those,
// and "*" for free-form JSON.

//go:embed fieldschema.json
var fieldSchemaJSON []byte

type fieldSchema struct {
	Kinds map[string]string            `json:"kinds"`
	Types map[string]map[string]string `json:"types"`
}

var loadFieldSchema = sync.OnceValue(func() *fieldSchema {
	var s fieldSchema
	if err := json.Unmarshal(fieldSchemaJSON, &s); err != nil {
		panic(fmt.Sprintf("kube: read fieldschema.json: %v", err)) // embedded: a build defect
	}
	// A JSON Patch's operations, as the API server decodes them.
	s.Types["jsonpatch.op"] = map[string]string{"op": "", "path": "", "from": "", "value": "*"}
	return &s
})

// maxStrictProblems bounds the problems reported, as the API server's
// decoder does.
const maxStrictProblems = 100

// StrictFields reads body, a JSON object of apiVersion's kind, as the API
// server's strict decoder does. It returns what that decoder reports, in
// the body's order: each field no type of the kind has (unknown field
// "spec.containers[0].imag") and each named twice in one object
// (duplicate field "data.a"); and body without the unknown fields, which
// is body itself when it has none. A kind it does not know, or a body
// that is not a JSON object, is returned as it is, with no problems (the
// decoding that follows says what is wrong with it).
func StrictFields(apiVersion, kind string, body []byte) (clean []byte, problems []string) {
	typ, ok := loadFieldSchema().Kinds[apiVersion+"/"+kind]
	if !ok {
		return body, nil
	}
	// A first reading only looks; a body with unknown fields is read
	// again to be written without them.
	clean, problems, removed := strictWalk(typ, body, false)
	if removed {
		clean, _, _ = strictWalk(typ, body, true)
	}
	return clean, problems
}

// DuplicateFields are the fields named twice in one object of body, any
// JSON (a merge patch), as the API server reports them.
func DuplicateFields(body []byte) []string {
	_, problems, _ := strictWalk("*", body, false)
	return problems
}

// JSONPatchProblems are a JSON Patch's strict decoding problems: members
// of an operation other than op, path, from and value, and fields named
// twice, as the API server reports them ("json patch unknown field
// \"[0].valu\"").
func JSONPatchProblems(body []byte) []string {
	_, problems, _ := strictWalk("[]jsonpatch.op", body, false)
	for i, p := range problems {
		problems[i] = "json patch " + p
	}
	return problems
}

// strictWalk reads body as desc describes it: its problems, whether it
// has unknown fields, and, when write, the body without them.
func strictWalk(desc string, body []byte, write bool) ([]byte, []string, bool) {
	w := &walker{dec: json.NewDecoder(bytes.NewReader(body)), types: loadFieldSchema().Types, write: write}
	w.dec.UseNumber()
	if err := w.value(desc, "", true); err != nil {
		return body, nil, false
	}
	if _, err := w.dec.Token(); !errors.Is(err, io.EOF) {
		return body, nil, false // trailing data: the decoding says so
	}
	if !w.removed || !write {
		return body, w.problems, w.removed
	}
	return w.out.Bytes(), w.problems, true
}

// walker reads a JSON value token by token against the schema and, when
// write, writes it again without the unknown fields.
type walker struct {
	dec      *json.Decoder
	types    map[string]map[string]string
	write    bool
	out      bytes.Buffer
	enc      *json.Encoder
	removed  bool
	problems []string
	seen     map[string]bool
	depth    int
}

func (w *walker) report(kind, path string) {
	p := kind + " " + strconv.Quote(path)
	if len(w.problems) >= maxStrictProblems || w.seen[p] {
		return
	}
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	w.seen[p] = true
	w.problems = append(w.problems, p)
}

// emit writes a token when the value is kept.
func (w *walker) emit(keep bool, tok any) {
	if !keep || !w.write {
		return
	}
	switch t := tok.(type) {
	case json.Delim:
		w.out.WriteString(t.String())
	case string:
		if w.enc == nil {
			w.enc = json.NewEncoder(&w.out)
			w.enc.SetEscapeHTML(false)
		}
		_ = w.enc.Encode(t)             // a string always encodes
		w.out.Truncate(w.out.Len() - 1) // its newline
	case json.Number:
		w.out.WriteString(t.String())
	case bool:
		w.out.WriteString(strconv.FormatBool(t))
	case nil:
		w.out.WriteString("null")
	}
}

func (w *walker) raw(keep bool, s string) {
	if keep && w.write {
		w.out.WriteString(s)
	}
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// maxStrictDepth bounds the nesting walked, as encoding/json bounds what
// it decodes (its Decoder's Token does not).
const maxStrictDepth = 10000

var errTooDeep = errors.New("kube: JSON nested too deep")

// value reads one value, described by desc, at path; keep says whether
// it is written.
func (w *walker) value(desc, path string, keep bool) error {
	if w.depth++; w.depth > maxStrictDepth {
		return errTooDeep
	}
	defer func() { w.depth-- }()
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	w.emit(keep, tok)
	switch tok {
	case json.Delim('{'):
		var fields map[string]string
		checked := true
		switch {
		case desc == "*":
		case strings.HasPrefix(desc, "{}"):
			desc = desc[2:]
		case desc != "" && !strings.HasPrefix(desc, "[]"):
			fields = w.types[desc]
		default:
			checked = false // read whole, or the wrong type: decoding says so
		}
		var seen map[string]bool
		first := true
		for w.dec.More() {
			kt, err := w.dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			sub := ""
			if checked {
				sub = desc
				if fields != nil {
					var known bool
					if sub, known = fields[key]; !known {
						w.report("unknown field", child(path, key))
						w.removed = true
						if err := w.value("", "", false); err != nil {
							return err
						}
						continue
					}
				}
				if seen[key] {
					w.report("duplicate field", child(path, key))
				}
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[key] = true
			}
			if !first {
				w.raw(keep, ",")
			}
			first = false
			w.emit(keep, key)
			w.raw(keep, ":")
			if err := w.value(sub, child(path, key), keep); err != nil {
				return err
			}
		}
		end, err := w.dec.Token()
		if err != nil {
			return err
		}
		w.emit(keep, end)
	case json.Delim('['):
		elem := ""
		switch {
		case desc == "*":
			elem = "*"
		case strings.HasPrefix(desc, "[]"):
			elem = desc[2:]
		}
		for i := 0; w.dec.More(); i++ {
			if i > 0 {
				w.raw(keep, ",")
			}
			if err := w.value(elem, path+"["+strconv.Itoa(i)+"]", keep); err != nil {
				return err
			}
		}
		end, err := w.dec.Token()
		if err != nil {
			return err
		}
		w.emit(keep, end)
	}
	return nil
}

// KindFields is the description of apiVersion's kind in the schema, for
// walking a decoded document with Field and Elem, and whether the schema
// has the kind.
func KindFields(apiVersion, kind string) (string, bool) {
	desc, ok := loadFieldSchema().Kinds[apiVersion+"/"+kind]
	return desc, ok
}

// Field is the description of an object's key, the object described by
// desc, and whether the object may have the key: a struct has its fields;
// a map, free-form JSON or a value read whole has any key.
func Field(desc, key string) (string, bool) {
	switch {
	case desc == "*":
		return "*", true
	case strings.HasPrefix(desc, "{}"):
		return desc[2:], true
	case desc == "" || strings.HasPrefix(desc, "[]"):
		return "", true
	}
	sub, ok := loadFieldSchema().Types[desc][key]
	return sub, ok
}

// Elem is the description of the elements of a list described by desc.
func Elem(desc string) string {
	switch {
	case desc == "*":
		return "*"
	case strings.HasPrefix(desc, "[]"):
		return desc[2:]
	}
	return ""
}
