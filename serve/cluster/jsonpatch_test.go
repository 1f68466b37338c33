package cluster

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestJSONPatch: the operations of RFC 6902, its examples among them, on
// objects and arrays, with JSON Pointer escapes; and the errors of
// patches that do not apply, which leave nothing half done.
func TestJSONPatch(t *testing.T) {
	for _, tt := range []struct {
		name, doc, patch, want, err string
	}{
		{"add member", `{"foo":"bar"}`, `[{"op":"add","path":"/baz","value":"qux"}]`, `{"baz":"qux","foo":"bar"}`, ""},
		{"add element", `{"foo":["bar","baz"]}`, `[{"op":"add","path":"/foo/1","value":"qux"}]`, `{"foo":["bar","qux","baz"]}`, ""},
		{"add at end", `{"foo":["bar"]}`, `[{"op":"add","path":"/foo/-","value":["abc"]}]`, `{"foo":["bar",["abc"]]}`, ""},
		{"add after last", `{"foo":["bar"]}`, `[{"op":"add","path":"/foo/1","value":1}]`, `{"foo":["bar",1]}`, ""},
		{"add null", `{}`, `[{"op":"add","path":"/a","value":null}]`, `{"a":null}`, ""},
		{"add replaces member", `{"a":1}`, `[{"op":"add","path":"/a","value":2}]`, `{"a":2}`, ""},
		{"add whole", `{"a":1}`, `[{"op":"add","path":"","value":[1]}]`, `[1]`, ""},
		{"remove member", `{"baz":"qux","foo":"bar"}`, `[{"op":"remove","path":"/baz"}]`, `{"foo":"bar"}`, ""},
		{"remove element", `{"foo":["bar","qux","baz"]}`, `[{"op":"remove","path":"/foo/1"}]`, `{"foo":["bar","baz"]}`, ""},
		{"replace", `{"baz":"qux","foo":"bar"}`, `[{"op":"replace","path":"/baz","value":"boo"}]`, `{"baz":"boo","foo":"bar"}`, ""},
		{"move member", `{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}`, `[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]`,
			`{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}`, ""},
		{"move element", `{"foo":["all","grass","cows","eat"]}`, `[{"op":"move","from":"/foo/1","path":"/foo/3"}]`, `{"foo":["all","cows","eat","grass"]}`, ""},
		{"copy", `{"a":{"b":[1]}}`, `[{"op":"copy","from":"/a","path":"/c"},{"op":"add","path":"/c/b/-","value":2}]`, `{"a":{"b":[1]},"c":{"b":[1,2]}}`, ""},
		{"test", `{"baz":"qux","foo":["a",2,"c"]}`, `[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]`, `{"baz":"qux","foo":["a",2,"c"]}`, ""},
		{"escapes", `{"a/b":1,"m~n":2}`, `[{"op":"replace","path":"/a~1b","value":3},{"op":"remove","path":"/m~0n"}]`, `{"a/b":3}`, ""},
		{"test fails", `{"baz":"qux"}`, `[{"op":"test","path":"/baz","value":"bar"}]`, "", `operation 0: test of "/baz" failed`},
		{"add to missing parent", `{"foo":"bar"}`, `[{"op":"add","path":"/baz/bat","value":"qux"}]`, "", "operation 0: path not found"},
		{"replace missing", `{}`, `[{"op":"replace","path":"/a","value":1}]`, "", "path not found"},
		{"remove missing", `{"a":[1]}`, `[{"op":"remove","path":"/a/1"}]`, "", `array index "1" out of range`},
		{"leading zero", `{"a":[1,2]}`, `[{"op":"remove","path":"/a/01"}]`, "", `invalid array index "01"`},
		{"add past end", `{"a":[1]}`, `[{"op":"add","path":"/a/2","value":0}]`, "", "out of range"},
		{"move into child", `{"a":{"b":{}}}`, `[{"op":"move","from":"/a","path":"/a/b/c"}]`, "", "cannot move into one of its children"},
		{"no value", `{}`, `[{"op":"add","path":"/a"}]`, "", `add: missing "value"`},
		{"unknown op", `{}`, `[{"op":"merge","path":"/a","value":1}]`, "", `unknown op "merge"`},
		{"bad pointer", `{}`, `[{"op":"add","path":"a","value":1}]`, "", "does not start with /"},
		{"bad escape", `{}`, `[{"op":"add","path":"/~2","value":1}]`, "", "invalid escape"},
		{"remove whole", `{}`, `[{"op":"remove","path":""}]`, "", "cannot remove the whole document"},
		{"later op fails", `{"a":1}`, `[{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":1}]`, "", "operation 1: test"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var doc any
			if err := json.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			got, err := applyJSONPatch(doc, []byte(tt.patch))
			if tt.err != "" {
				var perr *PatchError
				if !errors.As(err, &perr) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want a PatchError with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
	// A copy of the whole document into itself doubles it: bounded, it
	// stops long before the thousandth.
	bomb := `[` + strings.Repeat(`{"op":"copy","from":"","path":"/a"},`, maxPatchOps-1) + `{"op":"test","path":""}]`
	_, err := applyJSONPatch(map[string]any{"x": []any{1, 2, 3}}, []byte(bomb))
	var perr *PatchError
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), "copies more than 65536 values") {
		t.Errorf("copy bomb: %v, want the copy bound", err)
	}
	for _, bad := range []string{`{}`, `[{"op":1}]`, `[` + strings.Repeat(`{"op":"test","path":""},`, maxPatchOps) + `{}]`} {
		if _, err := applyJSONPatch(map[string]any{}, []byte(bad)); err == nil {
			t.Errorf("patch %.40s...: no error", bad)
		}
	}
}

// FuzzJSONPatch: any patch on any document applies or fails with an
// error, never a panic, and what applies encodes as JSON.
func FuzzJSONPatch(f *testing.F) {
	f.Add(`{"foo":["all","grass","cows","eat"]}`, `[{"op":"move","from":"/foo/1","path":"/foo/3"}]`)
	f.Add(`{"a":{"b":[1]}}`, `[{"op":"copy","from":"/a","path":"/c"},{"op":"add","path":"/c/b/-","value":2}]`)
	f.Add(`{"a/b":1,"m~n":2}`, `[{"op":"replace","path":"/a~1b","value":3},{"op":"remove","path":"/m~0n"}]`)
	f.Add(`[1,[2,[3]]]`, `[{"op":"remove","path":"/1/1/0"},{"op":"test","path":"/1/1","value":[]}]`)
	f.Add(`{}`, `[{"op":"add","path":"","value":{"x":[]}},{"op":"add","path":"/x/0","value":0}]`)
	f.Fuzz(func(t *testing.T, doc, patch string) {
		var d any
		if json.Unmarshal([]byte(doc), &d) != nil {
			return
		}
		got, err := applyJSONPatch(d, []byte(patch))
		if err != nil {
			return
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
	})
}
