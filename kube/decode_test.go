package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/porthole/porthole/internal/golden"
)

var decodeOK = []struct {
	name, in string
}{
	{"pod-yaml", `
apiVersion: v1
kind: Pod
metadata:
  name: demo
  labels: {app: demo}
spec:
  containers:
  - name: shell
    command: [sh]
    stdin: true
    env: [{name: A, value: "1"}]
    ports: [{containerPort: 8080, protocol: TCP}]
    resources: {limits: {cpu: 1}}   # not modelled: ignored
`},
	{"pod-json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"apps"},"spec":{"containers":[{"name":"c","command":["sleep","1"]}]}}`},
	{"multi-doc", `
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c}]}
---
# only a comment
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: other}
spec: {containers: [{name: c}], initContainers: [{name: i}]}
`},
	{"list", `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec: {containers: [{name: c}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: a, namespace: two}
  spec: {containers: [{name: c}]}
`},
	{"podlist", `{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]}}]}`},
	{"timestamp", `
apiVersion: v1
kind: Pod
metadata: {name: t, creationTimestamp: 2024-05-01T10:00:00Z}
spec: {containers: [{name: c}]}
`},
	{"empty", "\n---\n---\n"},
}

func TestDecodePods(t *testing.T) {
	for _, tc := range decodeOK {
		t.Run(tc.name, func(t *testing.T) {
			pods, err := DecodePods(strings.NewReader(tc.in), "in.yaml")
			if err != nil {
				t.Fatalf("DecodePods: %v", err)
			}
			got, err := json.MarshalIndent(pods, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, "decode/"+tc.name+".json", append(got, '\n'))
		})
	}
}

var decodeBad = []struct {
	name, in, want string
}{
	{"not-yaml", "a: [", `x.yaml: document 1: invalid YAML: yaml: line 1: did not find expected node content`},
	{"scalar", "hello", `x.yaml: document 1: not an object`},
	{"no-kind", "apiVersion: v1\nmetadata: {name: a}", `x.yaml: document 1: kind: required`},
	{"no-apiversion", "kind: Pod", `x.yaml: document 1: apiVersion: required`},
	{"deployment", "apiVersion: apps/v1\nkind: Deployment", `x.yaml: document 1: apiVersion: unsupported Deployment "apps/v1": only v1 Pod, List and PodList are supported`},
	{"service", "apiVersion: v1\nkind: Service", `x.yaml: document 1: kind: unsupported kind "Service": only v1 Pod, List and PodList are supported`},
	{"no-name", "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c}]}", `x.yaml: document 1: metadata.name: required`},
	{"bad-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: Demo}\nspec: {containers: [{name: c}]}",
		`x.yaml: document 1: metadata.name: invalid value "Demo": ` + subdomainMsg},
	{"bad-namespace", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: a.b}\nspec: {containers: [{name: c}]}",
		`x.yaml: document 1: metadata.namespace: invalid value "a.b": ` + labelMsg},
	{"no-containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: []}", `x.yaml: document 1: spec.containers: at least one container is required`},
	{"no-container-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{image: x}]}", `x.yaml: document 1: spec.containers[0].name: required`},
	{"bad-container-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}, {name: c_2}]}",
		`x.yaml: document 1: spec.containers[1].name: invalid value "c_2": ` + labelMsg},
	{"dup-container", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {initContainers: [{name: c}], containers: [{name: c}]}",
		`x.yaml: document 1: spec.containers[0].name: duplicate container name "c" (also spec.initContainers[0])`},
	{"bad-port", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: [{containerPort: 0}]}]}",
		`x.yaml: document 1: spec.containers[0].ports[0].containerPort: invalid value 0: must be between 1 and 65535`},
	{"bad-protocol", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: [{containerPort: 1, protocol: tcp}]}]}",
		`x.yaml: document 1: spec.containers[0].ports[0].protocol: unsupported value "tcp": must be TCP, UDP or SCTP`},
	{"bad-restart", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {restartPolicy: Sometimes, containers: [{name: c}]}",
		`x.yaml: document 1: spec.restartPolicy: unsupported value "Sometimes": must be Always, OnFailure or Never`},
	{"env-no-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{value: x}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].name: required`},
	{"wrong-type", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, command: sh}]}",
		`x.yaml: document 1: spec.containers.command: cannot use a JSON string as []string`},
	{"second-doc", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\nkind: Pod\napiVersion: v1\nmetadata: {name: b}\n",
		`x.yaml: document 2: spec.containers: at least one container is required`},
	{"dup-pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: default}\nspec: {containers: [{name: c}]}",
		`x.yaml: document 2: metadata.name: duplicate pod "a" in namespace "default" (first in document 1)`},
	{"list-of-service", "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Service}]", `x.yaml: document 1: items[0].kind: unsupported kind "Service": a list may hold only v1 Pods`},
	{"list-item-invalid", "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: A}]}}]",
		`x.yaml: document 1: items[0].spec.containers[0].name: invalid value "A": ` + labelMsg},
	{"non-string-key", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {1: x}}", `x.yaml: document 1: metadata.labels: map key 1 is not a string`},
	{"infinity", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nx: .inf", `x.yaml: document 1: x: +Inf is not a JSON number`},
}

func TestDecodePodsErrors(t *testing.T) {
	for _, tc := range decodeBad {
		t.Run(tc.name, func(t *testing.T) {
			pods, err := DecodePods(strings.NewReader(tc.in), "x.yaml")
			if err == nil {
				t.Fatalf("got pods %+v, want error %q", pods, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %T, want *DecodeError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestDecodePodsTooLarge(t *testing.T) {
	in := bytes.Repeat([]byte("#"), MaxManifestSize+1)
	_, err := DecodePods(bytes.NewReader(in), "big.yaml")
	if want := "big.yaml: larger than 8388608 bytes"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestValidateLongNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), true}, // a subdomain may have longer labels than 63
		{strings.Repeat("a.", 126) + "a", true},
		{strings.Repeat("a", 254), false},
		{"a..b", false},
		{"-a", false},
		{"a-", false},
		{"a.b-c.d9", true},
	} {
		p := &Pod{ObjectMeta: ObjectMeta{Name: tc.name}, Spec: PodSpec{Containers: []Container{{Name: "c"}}}}
		if err := p.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(name %q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// FuzzDecodePods: any input decodes or fails with a *DecodeError, never
// panics; what decodes survives a JSON round trip unchanged.
func FuzzDecodePods(f *testing.F) {
	for _, tc := range decodeOK {
		f.Add([]byte(tc.in))
	}
	for _, tc := range decodeBad {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("a: &a [*a, *a]\nb: *a"))
	f.Add([]byte("!!binary aGVsbG8="))
	f.Fuzz(func(t *testing.T, in []byte) {
		pods, err := DecodePods(bytes.NewReader(in), "fuzz")
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %T %v, want *DecodeError", err, err)
			}
			return
		}
		var buf bytes.Buffer
		for _, p := range pods {
			p.Kind, p.APIVersion = "Pod", "v1"
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
			buf.WriteString("\n---\n")
		}
		again, err := DecodePods(&buf, "again")
		if err != nil {
			t.Fatalf("re-decode %s: %v", buf.Bytes(), err)
		}
		a, _ := json.Marshal(pods)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip:\ngot  %s\nwant %s", b, a)
		}
	})
}
