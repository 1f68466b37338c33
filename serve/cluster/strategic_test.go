package cluster

import (
	"encoding/json"
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
			`{"containers":[{"name":"w","ports":[{"containerPort":80,"name":"a"},{"containerPort":81,"name":"b"}]},{"name":"y"}]}`},
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
	f.Add(`{"s":{"a":1}}`, `{"s":{"$retainKeys":["b"],"b":2},"$deleteFromPrimitiveList/x":[1]}`)
	f.Fuzz(func(t *testing.T, doc, patch string) {
		var d, p any
		if json.Unmarshal([]byte(doc), &d) != nil || json.Unmarshal([]byte(patch), &p) != nil {
			return
		}
		if _, err := json.Marshal(strategicMerge(d, p)); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
	})
}
