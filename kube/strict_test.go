package kube

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The problems are the real API server's answers to the same bodies
// (interop/apiserver TestSameFieldValidation compares them whole).
func TestStrictFields(t *testing.T) {
	for _, c := range []struct {
		name, apiVersion, kind, body string
		problems                     []string
		clean                        string
	}{
		{"unknown fields, in the body's order", "v1", "ConfigMap",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","bogus":1,"Labels":{"a":"b"}},"data":{"a":"1"},"foo":"bar","Data":{}}`,
			[]string{`unknown field "metadata.bogus"`, `unknown field "metadata.Labels"`, `unknown field "foo"`, `unknown field "Data"`},
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv"},"data":{"a":"1"}}`},
		{"duplicates, in structs and maps", "v1", "ConfigMap",
			`{"apiVersion":"v1","kind":"ConfigMap","kind":"ConfigMap","metadata":{"name":"fv","labels":{"a":"1","a":"2"}},"data":{"a":"1","b":"2","a":"3"}}`,
			[]string{`duplicate field "kind"`, `duplicate field "metadata.labels.a"`, `duplicate field "data.a"`}, ""},
		{"nested, in lists, beside fields porthole does not model", "apps/v1", "Deployment",
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fv"},"spec":{"replicas":1,
"selector":{"matchLabels":{"app":"fv"}},"strategy":{"rollingUpdate":{"maxSurge":"50%","bogus":1}},
"template":{"metadata":{"labels":{"app":"fv"},"bogus":{"x":1}},"spec":{"tolerations":[{"key":"k","operator":"Exists"}],
"volumes":[{"name":"v","emptyDir":{"sizeLimit":"1Mi","bogus":true}}],
"containers":[{"name":"main","image":"busybox","command":["sleep","3600"],"bogus":[1],
"resources":{"limits":{"cpu":"1"},"bogus":{}},
"env":[{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"metadata.name","bogus":"x"}}},{"name":"B","value":"b","bogus2":"y"}],
"ports":[{"containerPort":80,"bogus":80}]}]}}},"status":{"bogus":1}}`,
			[]string{`unknown field "spec.strategy.rollingUpdate.bogus"`, `unknown field "spec.template.metadata.bogus"`,
				`unknown field "spec.template.spec.volumes[0].emptyDir.bogus"`, `unknown field "spec.template.spec.containers[0].bogus"`,
				`unknown field "spec.template.spec.containers[0].resources.bogus"`,
				`unknown field "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.bogus"`,
				`unknown field "spec.template.spec.containers[0].env[1].bogus2"`, `unknown field "spec.template.spec.containers[0].ports[0].bogus"`,
				`unknown field "status.bogus"`},
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fv"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"fv"}},"strategy":{"rollingUpdate":{"maxSurge":"50%"}},"template":{"metadata":{"labels":{"app":"fv"}},"spec":{"tolerations":[{"key":"k","operator":"Exists"}],"volumes":[{"name":"v","emptyDir":{"sizeLimit":"1Mi"}}],"containers":[{"name":"main","image":"busybox","command":["sleep","3600"],"resources":{"limits":{"cpu":"1"}},"env":[{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"B","value":"b"}],"ports":[{"containerPort":80}]}]}}},"status":{}}`},
		{"values read whole are not looked into", "v1", "Service",
			`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","managedFields":[{"fieldsV1":{"f:x":{},"f:x":{}}}]},"spec":{"ports":[{"port":80,"targetPort":{"a":1}}]}}`,
			nil, ""},
		{"a value of the wrong type: decoding says so", "v1", "Pod",
			`{"apiVersion":"v1","kind":"Pod","metadata":"x","spec":{"containers":{"bogus":1}}}`, nil, ""},
		{"a kind not known", "v1", "ServiceAccount", `{"bogus":1}`, nil, ""},
		{"not JSON", "v1", "Pod", `{"bogus":`, nil, ""},
		{"trailing data", "v1", "Pod", `{"bogus":1} {}`, nil, ""},
		{"nested past encoding/json's bound", "v1", "ConfigMap",
			`{"bogus":` + strings.Repeat("[", maxStrictDepth+1) + strings.Repeat("]", maxStrictDepth+1) + `}`, nil, ""},
		{"escapes and numbers kept", "v1", "ConfigMap", `{"data":{"a\u003cb":"\"x\"\n"},"x":1.50e3,"metadata":{"generation":12345678901234567890}}`,
			[]string{`unknown field "x"`}, `{"data":{"a<b":"\"x\"\n"},"metadata":{"generation":12345678901234567890}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			clean, problems := StrictFields(c.apiVersion, c.kind, []byte(c.body))
			if !slices.Equal(problems, c.problems) {
				t.Errorf("problems\n%q\nwant\n%q", problems, c.problems)
			}
			want := c.clean
			if want == "" {
				want = c.body
			}
			if string(clean) != want {
				t.Errorf("clean\n%s\nwant\n%s", clean, want)
			}
		})
	}
}

func TestPatchProblems(t *testing.T) {
	if got, want := DuplicateFields([]byte(`{"data":{"c":"3","c":"4"},"x":[{"a":1,"a":2}],"zzz":1,"zzz":2}`)),
		[]string{`duplicate field "data.c"`, `duplicate field "x[0].a"`, `duplicate field "zzz"`}; !slices.Equal(got, want) {
		t.Errorf("DuplicateFields = %q, want %q", got, want)
	}
	if got, want := JSONPatchProblems([]byte(`[{"op":"add","path":"/data/f","value":{"a":1,"a":2},"valu":2},{"op":"add","op":"add"}]`)),
		[]string{`json patch duplicate field "[0].value.a"`, `json patch unknown field "[0].valu"`, `json patch duplicate field "[1].op"`}; !slices.Equal(got, want) {
		t.Errorf("JSONPatchProblems = %q, want %q", got, want)
	}
}

// The problems are bounded as the API server bounds them.
func TestStrictFieldsBound(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"metadata":{`)
	for i := range 300 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"f` + strings.Repeat("x", i) + `":1`)
	}
	b.WriteString(`},"zzz":1}`)
	clean, problems := StrictFields("v1", "Pod", []byte(b.String()))
	// Past the bound, unknown fields are still dropped.
	if len(problems) != maxStrictProblems || string(clean) != `{"metadata":{}}` {
		t.Errorf("%d problems, clean %s", len(problems), clean)
	}
}

func FuzzStrictFields(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","bogus":1},"spec":{"containers":[{"name":"c","x":[1,{"y":2}]}]}}`))
	f.Add([]byte(`{"data":{"a":"1","a":"2"},"Data":null}`))
	f.Add([]byte(`[{"op":"add"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []string{"Pod", "ConfigMap"} {
			clean, problems := StrictFields("v1", kind, body)
			if len(problems) > maxStrictProblems {
				t.Fatalf("%d problems", len(problems))
			}
			if !json.Valid(body) {
				continue
			}
			if !json.Valid(clean) {
				t.Fatalf("clean %q of %q is not JSON", clean, body)
			}
			again, left := StrictFields("v1", kind, clean)
			for _, p := range left {
				if strings.HasPrefix(p, "unknown") {
					t.Fatalf("clean %q still has %s", clean, p)
				}
			}
			if string(again) != string(clean) {
				t.Fatalf("cleaned twice: %q then %q", clean, again)
			}
		}
		DuplicateFields(body)
		JSONPatchProblems(body)
	})
}
