package kube

import (
	"strings"
	"testing"
)

// TestValidateConfigMap: every problem is reported, in the API server's
// words: each bad key (sorted, data's before binaryData's), a key in both,
// too many bytes (the whole object's, named []), and on update an
// immutable ConfigMap's changes first.
func TestValidateConfigMap(t *testing.T) {
	const bad = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' " +
		"(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
	yes, no := true, false
	meta := ObjectMeta{Name: "cfg"}
	for _, tc := range []struct {
		name    string
		cm, old *ConfigMap
		want    string
	}{
		{"valid", &ConfigMap{ObjectMeta: meta, Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": {0}}}, nil, ""},
		{"bad keys, one in both", &ConfigMap{ObjectMeta: meta, Data: map[string]string{"k": "", "a b": "", "..": ""},
			BinaryData: map[string][]byte{"k": nil, "c@d": nil}}, nil,
			`[data[..]: Invalid value: "..": must not be '..', data[a b]: Invalid value: "a b": ` + bad +
				`, data[k]: Invalid value: "k": duplicate of key present in binaryData, binaryData[c@d]: Invalid value: "c@d": ` + bad + `]`},
		{"a key too long and bad", &ConfigMap{ObjectMeta: meta, Data: map[string]string{strings.Repeat("k", 253) + "@": ""}}, nil,
			`[data[` + strings.Repeat("k", 253) + `@]: Invalid value: "` + strings.Repeat("k", 253) + `@": must be no more than 253 characters, ` +
				`data[` + strings.Repeat("k", 253) + `@]: Invalid value: "` + strings.Repeat("k", 253) + `@": ` + bad + `]`},
		{"too large", &ConfigMap{ObjectMeta: meta, Data: map[string]string{"a": strings.Repeat("x", MaxConfigMapData)},
			BinaryData: map[string][]byte{"b": {0}}}, nil, "[]: Too long: may not be more than 1048576 bytes"},
		{"immutable, all of it changed, a bad key", &ConfigMap{ObjectMeta: meta, Immutable: &no, Data: map[string]string{"a b": ""}},
			&ConfigMap{ObjectMeta: meta, Immutable: &yes, Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": {0}}},
			"[immutable: Forbidden: field is immutable when `immutable` is set, data: Forbidden: field is immutable when `immutable` is set, " +
				"binaryData: Forbidden: field is immutable when `immutable` is set, data[a b]: Invalid value: \"a b\": " + bad + "]"},
		{"immutable, labelled", &ConfigMap{ObjectMeta: ObjectMeta{Name: "cfg", Labels: map[string]string{"a": "b"}}, Immutable: &yes, Data: map[string]string{"a": "1"}},
			&ConfigMap{ObjectMeta: meta, Immutable: &yes, Data: map[string]string{"a": "1"}}, ""},
	} {
		var err error
		if tc.old == nil {
			err = tc.cm.Validate()
		} else {
			err = ValidateConfigMapUpdate(tc.cm, tc.old)
		}
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}
