package serve

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// TestFieldValidation: a write naming fields its kind has not, or one
// field twice, is refused (fieldValidation=Strict), warned of (Warn, and
// no directive) or let be (Ignore), in each way of writing, as the API
// server answers it (interop/apiserver compares the answers whole); the
// unknown fields are dropped whatever the directive, matched case
// sensitively; nothing is stored by a refused write.
func TestFieldValidation(t *testing.T) {
	s, _ := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("keep")}})
	const cms, cm, apply = "/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/configmaps/fv", "application/apply-patch+yaml"
	bad := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","Labels":{"a":"b"}},"data":{"a":"1"},"foo":1}`
	unknown := []string{`299 - "unknown field \"metadata.Labels\""`, `299 - "unknown field \"foo\""`}
	for _, tt := range []struct {
		name, method, path, contentType, body string
		code                                  int
		want                                  string
		warnings                              []string
	}{
		{"create, strict", "POST", cms + "?fieldValidation=Strict", "application/json", bad, 400,
			`"message":"ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"metadata.Labels\", unknown field \"foo\"","reason":"BadRequest"`, nil},
		{"an unsupported directive", "POST", cms + "?fieldValidation=strict", "application/json", bad, 422,
			`CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"`, nil},
		{"create, no directive: warned of, dropped", "POST", cms, "application/json", bad, 201, `"name":"fv","namespace":"default"`, unknown},
		{"replace, strict", "PUT", cm + "?fieldValidation=Strict", "application/json", bad, 400, `strict decoding error: unknown field \"metadata.Labels\"`, nil},
		{"replace, ignore: dropped", "PUT", cm + "?fieldValidation=Ignore", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","Labels":{"a":"b"}},"data":{"a":"2"}}`, 200, `"data":{"a":"2"}`, nil},
		{"replace with duplicates, warn", "PUT", cm + "?fieldValidation=Warn", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv"},"data":{"a":"1","a":"3"}}`, 200, `"data":{"a":"3"}`,
			[]string{`299 - "duplicate field \"data.a\""`}},
		{"merge patch, strict", "PATCH", cm + "?fieldValidation=Strict", "application/merge-patch+json", `{"data":{"c":"3","c":"4"},"zzz":1}`, 422,
			`strict decoding error: duplicate field \"data.c\", unknown field \"zzz\"","reason":"Invalid","details":{"causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"{\\\"apiVersion\\\":\\\"v1\\\",\\\"data\\\":{\\\"a\\\":\\\"3\\\",\\\"c\\\":\\\"4\\\"}`, nil},
		{"strategic patch, strict: the patch in Go's words", "PATCH", cm + "?fieldValidation=Strict", "application/strategic-merge-patch+json",
			`{"zzz":1000000,"data":{"e":"5"},"x":[0.5,null,true]}`, 422,
			`"message":" \"\" is invalid: patch: Invalid value: \"map[data:map[e:5] x:[0.5 \u003cnil\u003e true] zzz:1000000]\": strict decoding error: unknown field \"x\", unknown field \"zzz\""`, nil},
		{"JSON patch, warn", "PATCH", cm, "application/json-patch+json", `[{"op":"add","path":"/zzz","value":1,"valu":1}]`, 200, `"data":{"a":"3"}`,
			[]string{`299 - "json patch unknown field \"[0].valu\""`, `299 - "unknown field \"zzz\""`}},
		{"apply of an unknown field: whatever the directive", "PATCH", cm + "?fieldManager=a&force=true&fieldValidation=Ignore", apply,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\nspec: {a: '1'}\n", 500,
			`"status":"Failure","message":"failed to create typed patch object (/fv; /v1, Kind=ConfigMap): .spec: field not declared in schema","code":500}`, nil},
		{"apply with a duplicate, strict: the conflict first", "PATCH", cm + "?fieldManager=a&fieldValidation=Strict", apply,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: '1'}\ndata: {a: '2'}\n", 409, `conflict with`, nil},
		{"apply with a duplicate, strict", "PATCH", cm + "?fieldManager=a&force=true&fieldValidation=Strict", apply,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: '1'}\ndata: {a: '2'}\n", 400,
			`"message":"error strict decoding patch: error converting YAML to JSON: yaml: unmarshal errors:\n  line 5: key \"data\" already set in map"`, nil},
		{"apply with duplicates, warn: the last kept", "PATCH", cm + "?fieldManager=a&force=true", apply,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: '1', a: '2'}\n", 200, `"data":{"a":"2"}`,
			[]string{`299 - "line 4: key \"a\" already set in map"`}},
		{"an apply that creates, warned of", "PATCH", cms + "/fv2?fieldManager=a", apply,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv2}\ndata: {a: '1', a: '2'}\n", 201, `"data":{"a":"2"}`,
			[]string{`299 - "line 4: key \"a\" already set in map"`}},
		{"an apply that would create, strict", "PATCH", cms + "/fv3?fieldManager=a&fieldValidation=Strict", apply,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv3}\ndata: {a: '1', a: '2'}\n", 400, `line 4: key \"a\" already set in map`, nil},
		{"nothing made of it", "GET", cms + "/fv3", "", "", 404, `"reason":"NotFound"`, nil},
		{"a pod's unknown fields: dropped, not refused", "POST", "/api/v1/namespaces/default/pods", "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox","command":["sleep","60"],"imag":"x"}]}}`,
			201, `"name":"p"`, []string{`299 - "unknown field \"spec.containers[0].imag\""`}},
		{"a strategic patch of a pod's unknown field: dropped", "PATCH", "/api/v1/namespaces/default/pods/p", "application/strategic-merge-patch+json",
			`{"spec":{"containers":[{"name":"c","imag":"y"}]}}`, 200, `"name":"p"`, []string{`299 - "unknown field \"spec.containers[0].imag\""`}},
	} {
		code, body, warnings := doWarned(t, s, tt.method, tt.path, tt.contentType, tt.body)
		if code != tt.code || !strings.Contains(body, tt.want) || fmt.Sprint(warnings) != fmt.Sprint(tt.warnings) {
			t.Errorf("%s: %d %s\nwarnings %q\nwant %d %s\nwarnings %q", tt.name, code, body, warnings, tt.code, tt.want, tt.warnings)
		}
	}
	var got kube.ConfigMap
	getJSON(t, s, cms+"/fv", &got)
	if len(got.Labels) != 0 {
		t.Errorf("labels %v: a field named Labels was taken for them", got.Labels)
	}
}

// TestWarner: warnings are deduplicated and bounded as the API server
// bounds them: past 4096 runes in all, each is cut to 256.
func TestWarner(t *testing.T) {
	rec := httptest.NewRecorder()
	w := &warner{w: rec}
	w.add(`a "quoted" \ one`)
	w.add(`a "quoted" \ one`)
	w.add("a control\x01")
	if got := rec.Header().Values("Warning"); fmt.Sprint(got) != fmt.Sprint([]string{`299 - "a \"quoted\" \\ one"`}) {
		t.Errorf("warnings %q", got)
	}
	for i := range 20 {
		w.add(fmt.Sprintf("%03d%s", i, strings.Repeat("x", 297)))
	}
	got := rec.Header().Values("Warning")
	// 16 runes, then 13 of 300; the 14th passes 4096: all are cut to
	// 256 (3600 runes), and two more fit before 4096 is reached.
	if len(got) != 17 || len(got[1]) != len(`299 - ""`)+256 || got[16][7:10] != "015" {
		t.Errorf("%d warnings, the second %d bytes, the last %.12s", len(got), len(got[1]), got[len(got)-1])
	}
}

// FuzzApplyYAML: an apply document decodes as YAML decodes it, but that
// a key named twice keeps its last value and is reported, not refused.
func FuzzApplyYAML(f *testing.F) {
	f.Add([]byte("a: 1\nb: {c: 2, c: 3}\na: [x]\n"))
	f.Add([]byte(`{"a":{"b":1},"a":{"c":2}}`))
	f.Add([]byte("x: &a {y: 1}\nz: *a\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, dups, err := decodeApplyYAML(body)
		var want any
		if werr := yaml.Unmarshal(body, &want); werr == nil {
			if err != nil || len(dups) != 0 || !reflect.DeepEqual(doc, want) {
				t.Fatalf("%q: %v %q %v, YAML gives %v", body, doc, dups, err, want)
			}
		}
	})
}
