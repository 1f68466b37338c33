package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The bodies kubectl 1.33 sent for `auth can-i create pods/x
// --subresource=exec`, `auth whoami` (each version it tries) and `auth
// can-i --list`, captured from the wire.
func TestReviewFromProto(t *testing.T) {
	for file, want := range map[string]string{
		"kubectl-1.33-selfsubjectaccessreviews.pb": `{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1",` +
			`"spec":{"resourceAttributes":{"namespace":"default","verb":"create","resource":"pods","subresource":"exec","name":"x"}}}`,
		"kubectl-1.33-selfsubjectreviews-v1.pb":       `{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1"}`,
		"kubectl-1.33-selfsubjectreviews-v1beta1.pb":  `{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1beta1"}`,
		"kubectl-1.33-selfsubjectreviews-v1alpha1.pb": `{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1alpha1"}`,
		"kubectl-1.33-selfsubjectrulesreviews.pb":     `{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","spec":{"namespace":"default"}}`,
	} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := reviewFromProto(b)
		if err != nil || string(got) != want {
			t.Errorf("%s: got %s %v\nwant %s", file, got, err, want)
		}
	}
	// A selector and a non-resource review, built by hand.
	sel := []byte("\x0a\x05a=b,c\x12\x0d\x0a\x01c\x12\x02In\x1a\x01x\x1a\x01y")
	ra := append([]byte("\x12\x03get\x2a\x04pods\x4a"), byte(len(sel)))
	ra = append(ra, sel...)
	spec := append([]byte("\x0a"), byte(len(ra)))
	spec = append(spec, ra...)
	obj := append([]byte("\x12"), byte(len(spec)))
	obj = append(obj, spec...)
	tm := "\x0a\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview"
	body := append([]byte("k8s\x00\x0a"+string(rune(len(tm)))+tm+"\x12"), byte(len(obj)))
	body = append(body, obj...)
	got, err := reviewFromProto(body)
	want := `{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"resourceAttributes":{"verb":"get","resource":"pods",` +
		`"labelSelector":{"rawSelector":"a=b,c","requirements":[{"key":"c","operator":"In","values":["x","y"]}]}}}}`
	if err != nil || string(got) != want {
		t.Errorf("selector: got %s %v\nwant %s", got, err, want)
	}
	for name, bad := range map[string]string{
		"no magic":       "\x0a\x00",
		"truncated":      "k8s\x00\x0a\x10ab",
		"other kind":     "k8s\x00\x0a\x06\x12\x04Pod",
		"bad inner spec": "k8s\x00\x0a\x19\x12\x17SelfSubjectAccessReview\x12\x04\x12\x02\x0a\x09",
	} {
		if got, err := reviewFromProto([]byte(bad)); err == nil {
			t.Errorf("%s: got %s, want an error", name, got)
		}
	}
}

// FuzzReviewFromProto: any body gives an error or a JSON object naming a
// self review; never a panic.
func FuzzReviewFromProto(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "kubectl-*.pb"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := reviewFromProto(b)
		if err != nil {
			return
		}
		var v struct{ Kind string }
		if err := json.Unmarshal(out, &v); err != nil || !validReviewKind(v.Kind) {
			t.Fatalf("%q gave %s (%v)", b, out, err)
		}
	})
}

func validReviewKind(k string) bool {
	return k == "SelfSubjectAccessReview" || k == "SelfSubjectRulesReview" || k == "SelfSubjectReview"
}
