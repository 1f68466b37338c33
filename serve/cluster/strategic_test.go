package cluster

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// TestStrategicMerge: lists of containers, their ports and environment
// merge by key, as kubectl set image and set env need; directives
// delete, replace, retain and reorder as Kubernetes defines them.
func TestStrategicMerge(t *testing.T) {
	const tmpl = `{"spec":{"template":{"spec":{"containers":[` +
		`{"name":"w","image":"a","command":["sleep","1"],"ports":[{"containerPort":80,"name":"http"}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},` +
		`{"name":"x","image":"b"}]}}}}`
	for _, tt := range []struct{ name, doc, patch, want string }{
		{"set image", tmpl,
			`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"w"},{"name":"x"}],"containers":[{"image":"c","name":"w"}]}}}}`,
			`{"spec":{"template":{"spec":{"containers":[` +
				`{"command":["sleep","1"],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"image":"c","name":"w","ports":[{"containerPort":80,"name":"http"}]},` +
				`{"image":"b","name":"x"}]}}}}`},
		{"set env", tmpl,
			`{"spec":{"template":{"spec":{"containers":[{"env":[{"name":"B","value":"3"},{"name":"C","value":"4"},{"$patch":"delete","name":"A"}],"name":"w"}]}}}}`,
			`{"spec":{"template":{"spec":{"containers":[` +
				`{"command":["sleep","1"],"env":[{"name":"B","value":"3"},{"name":"C","value":"4"}],"image":"a","name":"w","ports":[{"containerPort":80,"name":"http"}]},` +
				`{"image":"b","name":"x"}]}}}}`},
		{"other lists replace, without directives", `{"c":[{"name":"w","ports":[{"containerPort":80}]}]}`,
			`{"c":[{"name":"y","$setElementOrder/ports":[]}]}`,
			`{"c":[{"name":"y"}]}`},
		{"containers by name", `{"containers":[{"name":"w","ports":[{"containerPort":80}]}]}`,
			`{"containers":[{"name":"w","ports":[{"containerPort":81,"name":"b"},{"containerPort":80,"name":"a"}]},{"name":"y"}]}`,
			`{"containers":[{"name":"w","ports":[{"containerPort":81,"name":"b"},{"containerPort":80,"name":"a"}]},{"name":"y"}]}`},
		// The API server's order: the patch's elements first, in its order,
		// then the others; or as $setElementOrder says.
		{"new elements first", `{"env":[{"name":"A"},{"name":"B"}]}`, `{"env":[{"name":"C"},{"name":"B","value":"b"}]}`,
			`{"env":[{"name":"C"},{"name":"A"},{"name":"B","value":"b"}]}`},
		{"new element, nothing else named", `{"env":[{"name":"A"},{"name":"B"}]}`, `{"env":[{"name":"C"}]}`,
			`{"env":[{"name":"C"},{"name":"A"},{"name":"B"}]}`},
		{"set element order", `{"env":[{"name":"A"},{"name":"B"}]}`,
			`{"$setElementOrder/env":[{"name":"B"},{"name":"C"},{"name":"A"}],"env":[{"name":"C"}]}`,
			`{"env":[{"name":"B"},{"name":"C"},{"name":"A"}]}`},
		{"set element order alone", `{"env":[{"name":"A"},{"name":"B"}]}`, `{"$setElementOrder/env":[{"name":"B"},{"name":"A"}]}`,
			`{"env":[{"name":"B"},{"name":"A"}]}`},
		{"replace list", `{"env":[{"name":"A"},{"name":"B"}]}`, `{"env":[{"name":"C"},{"$patch":"replace"}]}`, `{"env":[{"name":"C"}]}`},
		{"replace map", `{"s":{"a":1,"b":2}}`, `{"s":{"$patch":"replace","c":3}}`, `{"s":{"c":3}}`},
		{"null removes", `{"a":1,"b":{"c":2}}`, `{"b":{"c":null}}`, `{"a":1,"b":{}}`},
		{"plain lists replace", `{"command":["a","b"]}`, `{"command":["c"]}`, `{"command":["c"]}`},
		{"retain keys", `{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}`,
			`{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}`, `{"strategy":{"type":"Recreate"}}`},
		{"delete from primitive list", `{"finalizers":["a","b","c"]}`, `{"$deleteFromPrimitiveList/finalizers":["b"]}`, `{"finalizers":["a","c"]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var doc, patch any
			if err := json.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.patch), &patch); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(strategicMerge(doc, patch))
			if string(got) != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// FuzzStrategicMerge: any patch merges into any document without a
// panic, into something that encodes as JSON.
func FuzzStrategicMerge(f *testing.F) {
	f.Add(`{"containers":[{"name":"w","env":[{"name":"A"}]}]}`, `{"containers":[{"name":"w","env":[{"$patch":"delete","name":"A"}]}]}`)
	f.Add(`{"env":[{"name":"A"},{"name":"B"}]}`, `{"env":[{"name":"C"},{"$patch":"replace"}]}`)
	f.Add(`{"env":[{"name":"A","v":1},{"name":"A","v":2},{"name":1},"x"]}`, `{"env":[{"$patch":"delete","name":"A"},{"name":"A","w":3},{"name":1.0,"w":4},{"v":5},"y"]}`)
	f.Add(`{"s":{"a":1}}`, `{"s":{"$retainKeys":["b"],"b":2},"$deleteFromPrimitiveList/x":[1]}`)
	f.Fuzz(func(t *testing.T, doc, patch string) {
		var d, p any
		if json.Unmarshal([]byte(doc), &d) != nil || json.Unmarshal([]byte(patch), &p) != nil {
			return
		}
		if _, err := json.Marshal(strategicMerge(d, p)); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
		// The indexed merge gives what searching the list for each
		// element gives, duplicate keys and deletes included.
		decode := func(s string) any {
			var v any
			json.Unmarshal([]byte(s), &v)
			return v
		}
		for k, key := range templateKeys {
			pl, ok := field(decode(patch), k).([]any)
			if !ok {
				continue
			}
			want, _ := json.Marshal(mergeListBySearch(field(decode(doc), k), pl, key))
			pl, _ = field(decode(patch), k).([]any)
			have, _ := json.Marshal(mergeList(field(decode(doc), k), pl, key))
			if string(have) != string(want) {
				t.Fatalf("%s: indexed merge %s, by search %s", k, have, want)
			}
		}
	})
}

// field is m[k] when m is an object.
func field(m any, k string) any {
	if mm, ok := m.(map[string]any); ok {
		return mm[k]
	}
	return nil
}

// mergeListBySearch is mergeList as it was, searching the list for each
// patch element: the reference the indexed one must agree with.
func mergeListBySearch(doc any, patch []any, key string) []any {
	out, _ := doc.([]any)
	out = slices.Clone(out)
	for _, pe := range patch {
		if m, ok := pe.(map[string]any); ok && m["$patch"] == "replace" && m[key] == nil {
			var list []any
			for _, e := range patch {
				if m, ok := e.(map[string]any); !ok || m["$patch"] == nil {
					list = append(list, stripDirectives(e))
				}
			}
			return list
		}
	}
	for _, pe := range patch {
		m, ok := pe.(map[string]any)
		if !ok {
			out = append(out, pe)
			continue
		}
		i := slices.IndexFunc(out, func(e any) bool {
			em, ok := e.(map[string]any)
			return ok && reflect.DeepEqual(em[key], m[key])
		})
		switch {
		case m["$patch"] == "delete":
			if i >= 0 {
				out = slices.Delete(out, i, i+1)
			}
		case i >= 0:
			out[i] = strategicMerge(out[i], m)
		default:
			out = append(out, strategicMerge(nil, m))
		}
	}
	return out
}

// TestStrategicMergeLongList: a patch of 40,000 containers (670 KB, under
// the 1 MiB body bound) merges into a list of 40,000 others, each
// matched, and adds as many: the merge is indexed, not a search per
// element (which took 66 s here).
func TestStrategicMergeLongList(t *testing.T) {
	const n = 40000
	doc, patch := make([]any, n), make([]any, 2*n)
	for i := range n {
		doc[i] = map[string]any{"name": fmt.Sprint(i), "image": "a"}
		patch[i] = map[string]any{"name": fmt.Sprint(n - 1 - i), "image": "b"}
		patch[n+i] = map[string]any{"name": fmt.Sprint(n + i)}
	}
	out := mergeList(doc, patch, "name")
	if len(out) != 2*n {
		t.Fatalf("%d containers, want %d", len(out), 2*n)
	}
	for i, e := range out {
		m := e.(map[string]any)
		if m["name"] != fmt.Sprint(i) || (i < n) != (m["image"] == "b") {
			t.Fatalf("container %d: %v", i, m)
		}
	}
}
