package kubeproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
)

// enc builds protobuf bytes by hand, one field at a time.
type enc []byte

func (e enc) varint(num int, v uint64) enc {
	e = binary.AppendUvarint(e, uint64(num)<<3)
	return binary.AppendUvarint(e, v)
}

func (e enc) bytes(num int, b []byte) enc {
	e = binary.AppendUvarint(e, uint64(num)<<3|2)
	e = binary.AppendUvarint(e, uint64(len(b)))
	return append(e, b...)
}

func (e enc) str(num int, s string) enc { return e.bytes(num, []byte(s)) }

func (e enc) raw(b ...byte) enc { return append(e, b...) }

// object wraps an encoded object in the envelope.
func object(apiVersion, kind string, obj enc) []byte {
	env := enc(nil).bytes(1, enc(nil).str(1, apiVersion).str(2, kind)).bytes(2, obj)
	return append([]byte("k8s\x00"), env...)
}

func TestToJSON(t *testing.T) {
	meta := enc(nil).str(1, "web").str(3, "default").
		bytes(11, enc(nil).str(1, "app").str(2, "web")).
		bytes(11, enc(nil).str(1, "tier").str(2, "front")).
		bytes(8, nil). // the zero creationTimestamp
		bytes(9, enc(nil).varint(1, 1765000000)).
		str(14, "a").str(14, "b").
		bytes(17, enc(nil).str(1, "kubectl").str(2, "Update").bytes(7, enc(nil).str(1, `{"f:metadata":{"f:labels":{}}}`))) // managedFields
	probe := enc(nil).bytes(1, enc(nil).bytes(2, enc(nil).str(1, "/healthz").bytes(2, enc(nil).varint(1, 1).str(3, "http")))).
		varint(2, uint64(0xffffffffffffffff)). // initialDelaySeconds -1, sign-extended
		varint(4, 3)
	container := enc(nil).str(1, "c").str(2, "busybox").str(3, "sleep").str(3, "infinity").
		bytes(6, enc(nil).str(1, "http").varint(3, 8080)).
		bytes(8, enc(nil).bytes(1, enc(nil).str(1, "cpu").bytes(2, enc(nil).str(1, "100m"))).bytes(1, enc(nil).str(1, "memory")).
			bytes(2, enc(nil).str(1, "cpu").bytes(2, enc(nil).str(1, "50m")))). // resources: limits (memory without its value), requests
		bytes(11, probe).varint(16, 1)
	spec := enc(nil).varint(1, 2).
		bytes(2, enc(nil).bytes(1, enc(nil).str(1, "app").str(2, "web"))).
		bytes(3, enc(nil).bytes(1, enc(nil).bytes(11, enc(nil).str(1, "app").str(2, "web"))).bytes(2, enc(nil).bytes(2, container))).
		bytes(4, enc(nil).str(1, "RollingUpdate").bytes(2, enc(nil).bytes(2, enc(nil).varint(1, 1).str(3, "25%")))).
		raw(0x45, 1, 2, 3, 4).             // field 8, fixed32: not modeled
		raw(0x51, 1, 2, 3, 4, 5, 6, 7, 8). // field 10, fixed64: not modeled
		varint(6, 5)
	got, err := ToJSON(object("apps/v1", "Deployment", enc(nil).bytes(1, meta).bytes(2, spec).bytes(2, enc(nil).varint(7, 1))))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"apps/v1","kind":"Deployment",` +
		`"metadata":{"creationTimestamp":null,"deletionTimestamp":"2025-12-06T05:46:40Z","finalizers":["a","b"],"labels":{"app":"web","tier":"front"},` +
		`"managedFields":[{"fieldsV1":{"f:metadata":{"f:labels":{}}},"manager":"kubectl","operation":"Update"}],"name":"web","namespace":"default"},` +
		`"spec":{"paused":true,"replicas":2,"revisionHistoryLimit":5,"selector":{"matchLabels":{"app":"web"}},` +
		`"strategy":{"rollingUpdate":{"maxSurge":"25%"},"type":"RollingUpdate"},` +
		`"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"command":["sleep","infinity"],"image":"busybox","name":"c","ports":[{"containerPort":8080,"name":"http"}],` +
		`"readinessProbe":{"httpGet":{"path":"/healthz","port":"http"},"initialDelaySeconds":-1,"periodSeconds":3},` +
		`"resources":{"limits":{"cpu":"100m","memory":"0"},"requests":{"cpu":"50m"}},"stdin":true}]}}}}`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	opts, err := ToJSON(object("apps/v1", "DeleteOptions", enc(nil).varint(1, 0).bytes(2, enc(nil).str(1, "u1")).str(4, "Foreground").str(5, "All")))
	if err != nil || string(opts) != `{"apiVersion":"apps/v1","dryRun":["All"],"gracePeriodSeconds":0,"kind":"DeleteOptions","preconditions":{"uid":"u1"},"propagationPolicy":"Foreground"}` {
		t.Errorf("DeleteOptions: %s %v", opts, err)
	}
	svc, err := ToJSON(object("v1", "Service", enc(nil).bytes(2, enc(nil).bytes(1, enc(nil).varint(3, 80).bytes(4, enc(nil).varint(2, 8080))))))
	if err != nil || string(svc) != `{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":80,"targetPort":8080}]}}` {
		t.Errorf("Service: %s %v", svc, err)
	}
}

func TestToJSONRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		body []byte
		want string
	}{
		{"no prefix", []byte(`{"kind":"Pod"}`), "does not start with the Kubernetes protobuf prefix"},
		{"unknown kind", object("v1", "ServiceAccount", nil), `v1 "ServiceAccount" is not a kind porthole reads`},
		{"managedFields of bad JSON", object("v1", "Pod", enc(nil).bytes(1, enc(nil).bytes(17, enc(nil).bytes(7, enc(nil).str(1, "{"))))), "fieldsV1: unexpected end of JSON input"},
		{"encoded content", append([]byte("k8s\x00"), enc(nil).bytes(1, enc(nil).str(1, "v1").str(2, "Pod")).str(3, "gzip")...), `content encoding "gzip"`},
		{"truncated tag", object("v1", "Pod", enc(nil).raw(0x80)), "truncated field tag"},
		{"truncated length", object("v1", "Pod", enc(nil).raw(0x0a, 5, 1)), "field 1: truncated length-delimited value"},
		{"huge length", object("v1", "Pod", enc(nil).raw(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)), "truncated length-delimited value"},
		{"truncated fixed", object("v1", "Pod", enc(nil).raw(0x0d, 1)), "truncated fixed value"},
		{"group", object("v1", "Pod", enc(nil).raw(0x0b)), "wire type 3 is not supported"},
		{"field 0", object("v1", "Pod", enc(nil).raw(0x00, 1)), "field number 0"},
		{"wrong wire type", object("v1", "Pod", enc(nil).varint(1, 7)), "metadata: wire type 0, want 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ToJSON(tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s %v, want an error with %q", got, err, tt.want)
			}
		})
	}
}

// FuzzToJSON: any input converts or is refused, never panics; what
// converts is one JSON object naming its apiVersion and kind. The seeds
// in testdata are the real encoder's (written by the interop module's
// kubeproto tests).
func FuzzToJSON(f *testing.F) {
	f.Add(object("v1", "Pod", enc(nil).bytes(1, enc(nil).str(1, "p"))))
	f.Add(object("autoscaling/v1", "Scale", enc(nil).bytes(2, enc(nil).varint(1, 3))))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ToJSON(b)
		if err != nil {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("not JSON: %v: %s", err, out)
		}
		if _, ok := obj["kind"].(string); !ok {
			t.Fatalf("no kind: %s", out)
		}
		if bytes.Count(out, []byte(`"apiVersion"`)) < 1 {
			t.Fatalf("no apiVersion: %s", out)
		}
	})
}
