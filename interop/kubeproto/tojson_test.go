package kubeproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/porthole/porthole/kube/kubeproto"
)

// TestToJSONMatchesKubernetes: each object porthole reads in protobuf,
// encoded by client-go's protobuf serializer and converted by
// kubeproto.ToJSON, reads into porthole's type as the same value as the
// object's real JSON encoding does; fields porthole does not model are
// dropped without error (JSON keeps a Deployment's and a Service's).
func TestToJSONMatchesKubernetes(t *testing.T) {
	for _, o := range testObjects() {
		t.Run(o.name, func(t *testing.T) {
			pb := encodeProto(t, o.build(), o.gvk.GroupVersion())
			js := encodeJSON(t, o.build(), o.gvk)
			got, err := kubeproto.ToJSON(pb)
			if err != nil {
				t.Fatalf("ToJSON: %v\nprotobuf %q", err, pb)
			}
			if !json.Valid(got) {
				t.Fatalf("ToJSON wrote invalid JSON: %s", got)
			}
			want, have := o.porthole(), o.porthole()
			if err := json.Unmarshal(js, want); err != nil {
				t.Fatalf("decode the Kubernetes JSON into %T: %v\n%s", want, err, js)
			}
			if err := json.Unmarshal(got, have); err != nil {
				t.Fatalf("decode ToJSON's JSON into %T: %v\n%s", have, err, got)
			}
			// JSON keeps a Deployment's or Service's unmodeled spec fields
			// (kube.Deployment.Unmodeled); ToJSON knows the modeled schema
			// only (and minReadySeconds), and drops the rest.
			if f := reflect.ValueOf(want).Elem().FieldByName("Unmodeled"); f.IsValid() {
				if f.IsNil() {
					t.Errorf("%s from JSON kept none of the fields porthole does not model", o.name)
				}
				f.SetZero()
				reflect.ValueOf(have).Elem().FieldByName("Unmodeled").SetZero()
			}
			if !reflect.DeepEqual(have, want) {
				h, _ := json.MarshalIndent(have, "", "  ")
				w, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("%s read from protobuf differs from the one read from JSON:\nprotobuf: %s\nJSON:     %s\nToJSON wrote %s\nKubernetes JSON %s",
					o.name, h, w, got, js)
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s read from protobuf lacks a field checked: %v", o.name, p)
					}
				}()
				o.check(t, have)
			}()
			for _, key := range o.dropped {
				if !bytes.Contains(js, []byte(key)) {
					t.Errorf("the Kubernetes JSON lacks %s, which the object sets", key)
				}
				if bytes.Contains(got, []byte(key)) {
					t.Errorf("ToJSON kept %s, which porthole does not model:\n%s", key, got)
				}
			}
		})
	}
}

// TestToJSONRejectsMalformed: bodies that are not an object porthole reads
// in protobuf are refused with an error, never a panic.
func TestToJSONRejectsMalformed(t *testing.T) {
	dep := encodeProto(t, newDeployment(), appsv1.SchemeGroupVersion)

	// Every proper prefix of every real encoding. The envelope is a
	// protobuf message, so a prefix that ends between two of its fields
	// (after typeMeta, after raw) is itself a valid encoding, which the
	// real decoder (client-go's protobuf serializer) accepts; porthole
	// must then accept it too and read the same kind. Every other prefix
	// cuts a field, and both must refuse it.
	t.Run("truncated", func(t *testing.T) {
		k8s := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
		for _, o := range testObjects() {
			b := encodeProto(t, o.build(), o.gvk.GroupVersion())
			refused := 0
			for n := range len(b) {
				prefix := bytes.Clone(b[:n])
				got, err := toJSON(prefix)
				_, gvk, kerr := k8s.Decode(prefix, nil, nil)
				switch {
				case errors.Is(err, errPanic):
					t.Errorf("%s: the %d-byte prefix: %v", o.name, n, err)
				case kerr != nil && err == nil:
					t.Errorf("%s: the %d-byte prefix, which Kubernetes refuses (%v), was read as %s", o.name, n, kerr, got)
				case kerr == nil && err != nil:
					t.Errorf("%s: the %d-byte prefix, which Kubernetes reads as a %v, was refused: %v", o.name, n, gvk, err)
				case err == nil:
					v := o.porthole()
					if jerr := json.Unmarshal(got, v); jerr != nil {
						t.Errorf("%s: the %d-byte prefix was read as JSON that %T does not take: %v\n%s", o.name, n, v, jerr, got)
					}
					var tm metav1.TypeMeta
					if jerr := json.Unmarshal(got, &tm); jerr != nil || tm.GroupVersionKind() != *gvk {
						t.Errorf("%s: the %d-byte prefix was read as %s, Kubernetes reads a %v", o.name, n, got, gvk)
					}
				default:
					refused++
				}
			}
			// Only the envelope's field boundaries can be read: at most
			// after its typeMeta, raw and contentEncoding.
			if refused < len(b)-3 {
				t.Errorf("%s: only %d of the %d proper prefixes were refused", o.name, refused, len(b))
			}
			t.Logf("%s: %d bytes, %d proper prefixes refused", o.name, len(b), refused)
		}
	})

	account := encodeProto(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"}}, corev1.SchemeGroupVersion)
	rs := encodeProto(t, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f"},
		Spec: appsv1.ReplicaSetSpec{Replicas: new(int32)}}, appsv1.SchemeGroupVersion)
	for _, tc := range []struct {
		name string
		body []byte
		want string // in the error
	}{
		{"empty", nil, "prefix"},
		{"prefix only", []byte("k8s\x00"), "not a kind porthole reads"},
		{"no prefix", dep[4:], "prefix"},
		{"other prefix", append([]byte("k8s\x01"), dep[4:]...), "prefix"},
		{"JSON", encodeJSON(t, newDeployment(), appsv1.SchemeGroupVersion.WithKind("Deployment")), "prefix"},
		{"v1 ServiceAccount", account, `v1 "ServiceAccount"`},
		{"apps/v1 ReplicaSet", rs, `apps/v1 "ReplicaSet"`},
		{"contentEncoding gzip", reenvelope(t, dep, func(u *runtime.Unknown) { u.ContentEncoding = "gzip" }), "gzip"},
		{"Deployment as v1", reenvelope(t, dep, func(u *runtime.Unknown) { u.APIVersion = "v1" }), `v1 "Deployment"`},
		{"raw of garbage", reenvelope(t, dep, func(u *runtime.Unknown) { u.Raw = []byte{0xff, 0xff, 0xff} }), "Deployment"},
		// metadata (field 1) as a varint, not a message.
		{"wrong wire type", reenvelope(t, dep, func(u *runtime.Unknown) { u.Raw = []byte{0x08, 0x01} }), "wire type"},
		// spec.replicas (field 2, then 1) as a message, not a varint.
		{"wrong nested wire type", reenvelope(t, dep, func(u *runtime.Unknown) { u.Raw = []byte{0x12, 0x02, 0x0a, 0x00} }), "wire type"},
		{"raw cut in a field", reenvelope(t, dep, func(u *runtime.Unknown) { u.Raw = u.Raw[:len(u.Raw)/2] }), "truncated"},
		{"field number 0", reenvelope(t, dep, func(u *runtime.Unknown) { u.Raw = []byte{0x00, 0x00} }), "field number 0"},
		{"group wire type", reenvelope(t, dep, func(u *runtime.Unknown) { u.Raw = []byte{0x0b} }), "wire type"},
		{"overlong varint", reenvelope(t, dep, func(u *runtime.Unknown) {
			u.Raw = append([]byte{0x12, 0x0b, 0x08}, bytes.Repeat([]byte{0xff}, 10)...)
		}), "varint"},
		{"length past the end", reenvelope(t, dep, func(u *runtime.Unknown) {
			u.Raw = []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
		}), "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toJSON(tc.body)
			if errors.Is(err, errPanic) {
				t.Fatalf("ToJSON(%q): %v", tc.body, err)
			}
			if err == nil {
				t.Fatalf("ToJSON(%q) = %s, want an error", tc.body, got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ToJSON(%q): error %q, want one mentioning %q", tc.body, err, tc.want)
			}
		})
	}
}

// errPanic marks a panic of ToJSON, returned by toJSON as an error.
var errPanic = errors.New("ToJSON panicked")

// toJSON is kubeproto.ToJSON with a panic returned as an errPanic.
func toJSON(b []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%w: %v\n%s", errPanic, p, debug.Stack())
		}
	}()
	return kubeproto.ToJSON(b)
}

// reenvelope is the encoding b with its runtime.Unknown envelope changed
// by edit.
func reenvelope(t *testing.T, b []byte, edit func(*runtime.Unknown)) []byte {
	t.Helper()
	var u runtime.Unknown
	if err := u.Unmarshal(b[4:]); err != nil {
		t.Fatal(err)
	}
	edit(&u)
	out, err := u.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("k8s\x00"), out...)
}

// TestToJSONTimestamps: a metav1.Time reads as its JSON form. The zero
// time is encoded as an empty message and read as null; any other time as
// its seconds and nanos (0: metav1.Time keeps whole seconds), so the Unix
// epoch is a message of seconds 0 and nanos 0, which Kubernetes reads back
// as 1970-01-01T00:00:00Z.
func TestToJSONTimestamps(t *testing.T) {
	k8s := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	for _, tc := range []struct {
		name string
		ts   metav1.Time
	}{
		{"zero", metav1.Time{}},
		{"epoch", metav1.Unix(0, 0)},
		{"before the epoch", metav1.Unix(-1, 0)},
		{"with nanoseconds", created},
		{"year 1", metav1.NewTime(time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build := func() *corev1.Pod {
				return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: tc.ts}}
			}
			pb := encodeProto(t, build(), corev1.SchemeGroupVersion)
			js := encodeJSON(t, build(), corev1.SchemeGroupVersion.WithKind("Pod"))
			// What Kubernetes reads from the protobuf is what its JSON says.
			obj, _, err := k8s.Decode(pb, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			whole := tc.ts.Rfc3339Copy() // the time to the second
			if back := obj.(*corev1.Pod).CreationTimestamp; !back.Equal(&whole) || back.IsZero() != tc.ts.IsZero() {
				t.Fatalf("Kubernetes reads %v back as %v", tc.ts, back)
			}
			got, err := kubeproto.ToJSON(pb)
			if err != nil {
				t.Fatalf("ToJSON: %v", err)
			}
			var want, have struct {
				Metadata struct {
					CreationTimestamp *string `json:"creationTimestamp"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatal(err)
			}
			if w, h := ptrString(want.Metadata.CreationTimestamp), ptrString(have.Metadata.CreationTimestamp); h != w {
				t.Errorf("creationTimestamp %v (protobuf %q) read as %s, want %s as in JSON", tc.ts, pb, h, w)
			}
		})
	}
}
