// Package kubeproto reads the Kubernetes protobuf encoding of the objects
// porthole serve accepts in writes. kubectl 1.32 and later, and any
// client-go typed client configured for protobuf, send creates in it
// (kubectl create deployment, kubectl create service). The object is
// converted to its JSON form, which the rest of porthole reads; fields
// porthole does not model are dropped (from JSON, a Deployment's and a
// Service's are kept: see kube.Deployment.Unmodeled; the clients that
// create in protobuf, kubectl create and client-go typed clients, rarely
// set them).
//
// The encoding is the protobuf wire format of the messages in
// k8s.io/api's generated.proto files, inside an envelope: the bytes
// "k8s\x00", then a runtime.Unknown message holding the object's
// apiVersion and kind and the object's own encoding.
package kubeproto

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ContentType is the media type of the encoding.
const ContentType = "application/vnd.kubernetes.protobuf"

// magic starts every encoded object.
var magic = []byte("k8s\x00")

// ToJSON converts an encoded object of a kind porthole accepts (a v1 Pod,
// Service, Namespace, ConfigMap or Secret, an apps/v1 Deployment, an autoscaling/v1 Scale, or
// DeleteOptions) to JSON, with its apiVersion and kind.
func ToJSON(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, magic) {
		return nil, errors.New("decode protobuf: the body does not start with the Kubernetes protobuf prefix")
	}
	env := map[string]any{}
	if err := decode(b[len(magic):], envelope, env); err != nil {
		return nil, fmt.Errorf("decode protobuf envelope: %w", err)
	}
	tm, _ := env["typeMeta"].(map[string]any)
	apiVersion, _ := tm["apiVersion"].(string)
	kind, _ := tm["kind"].(string)
	if enc, _ := env["contentEncoding"].(string); enc != "" {
		return nil, fmt.Errorf("decode protobuf: content encoding %q is not supported", enc)
	}
	root, ok := roots[apiVersion+"/"+kind]
	if !ok && kind == "DeleteOptions" { // sent under any group's version
		root, ok = deleteOptions, true
	}
	if !ok {
		return nil, fmt.Errorf("decode protobuf: %s %q is not a kind porthole reads in protobuf", apiVersion, kind)
	}
	raw, _ := env["raw"].(string)
	obj := map[string]any{}
	if err := decode([]byte(raw), root, obj); err != nil {
		return nil, fmt.Errorf("decode protobuf %s: %w", kind, err)
	}
	obj["apiVersion"], obj["kind"] = apiVersion, kind
	return json.Marshal(obj)
}

// kind is how a field's value is read and written as JSON.
type kind int

const (
	kString kind = iota
	kBytes       // kept as a Go string of the bytes: only the envelope's raw
	kInt32
	kInt64
	kBool
	kMessage
	kStringMap   // map<string, string>
	kTime        // meta/v1 Time: seconds and nanos, as RFC 3339
	kIntOrString // intstr: type, intVal, strVal, as a number or a string
	kBytesMap    // map<string, bytes>, its values base64 as in JSON
	kQuantity    // resource.Quantity: its string
	kQuantityMap // map<string, resource.Quantity>: the quantities' strings
	kRawJSON     // a message whose field 1 is JSON (FieldsV1): that JSON
)

// field is one field of a message, under its JSON name.
type field struct {
	name     string
	kind     kind
	msg      message // of a kMessage
	repeated bool
	inline   bool // its message's fields are the parent's (Probe's handler)
}

// message is a message's fields by number; fields not listed are skipped.
type message map[uint64]field

func str(name string) field            { return field{name: name, kind: kString} }
func strs(name string) field           { return field{name: name, kind: kString, repeated: true} }
func i32(name string) field            { return field{name: name, kind: kInt32} }
func i64(name string) field            { return field{name: name, kind: kInt64} }
func boolean(name string) field        { return field{name: name, kind: kBool} }
func msg(name string, m message) field { return field{name: name, kind: kMessage, msg: m} }
func msgs(name string, m message) field {
	return field{name: name, kind: kMessage, msg: m, repeated: true}
}
func strMap(name string) field      { return field{name: name, kind: kStringMap} }
func intOrString(name string) field { return field{name: name, kind: kIntOrString} }
func bytesMap(name string) field    { return field{name: name, kind: kBytesMap} }
func quantity(name string) field    { return field{name: name, kind: kQuantity} }
func quantityMap(name string) field { return field{name: name, kind: kQuantityMap} }
func rawJSON(name string) field     { return field{name: name, kind: kRawJSON} }
func timestamp(name string) field   { return field{name: name, kind: kTime} }
func inline(m message) field        { return field{kind: kMessage, msg: m, inline: true} }

// The messages, by their field numbers in k8s.io/api and
// k8s.io/apimachinery's generated.proto.
var (
	envelope = message{
		1: msg("typeMeta", message{1: str("apiVersion"), 2: str("kind")}),
		2: {name: "raw", kind: kBytes},
		3: str("contentEncoding"),
		4: str("contentType"),
	}
	ownerReference = message{5: str("apiVersion"), 1: str("kind"), 3: str("name"), 4: str("uid"),
		6: boolean("controller"), 7: boolean("blockOwnerDeletion")}
	objectMeta = message{1: str("name"), 2: str("generateName"), 3: str("namespace"), 5: str("uid"),
		6: str("resourceVersion"), 7: i64("generation"), 8: timestamp("creationTimestamp"),
		9: timestamp("deletionTimestamp"), 10: i64("deletionGracePeriodSeconds"), 11: strMap("labels"),
		12: strMap("annotations"), 13: msgs("ownerReferences", ownerReference), 14: strs("finalizers"),
		17: msgs("managedFields", message{1: str("manager"), 2: str("operation"), 3: str("apiVersion"), 4: timestamp("time"),
			6: str("fieldsType"), 7: rawJSON("fieldsV1"), 8: str("subresource")})}
	labelSelector = message{1: strMap("matchLabels"),
		2: msgs("matchExpressions", message{1: str("key"), 2: str("operator"), 3: strs("values")})}
	probe = message{
		1: inline(message{
			1: msg("exec", message{1: strs("command")}),
			2: msg("httpGet", message{1: str("path"), 2: intOrString("port"), 3: str("host"), 4: str("scheme"),
				5: msgs("httpHeaders", message{1: str("name"), 2: str("value")})}),
			3: msg("tcpSocket", message{1: intOrString("port"), 2: str("host")}),
		}),
		2: i32("initialDelaySeconds"), 3: i32("timeoutSeconds"), 4: i32("periodSeconds"),
		5: i32("successThreshold"), 6: i32("failureThreshold"),
	}
	keySelector  = message{1: inline(message{1: str("name")}), 2: str("key"), 3: boolean("optional")}
	envSource    = message{1: inline(message{1: str("name")}), 2: boolean("optional")}
	envVarSource = message{1: msg("fieldRef", message{1: str("apiVersion"), 2: str("fieldPath")}),
		2: msg("resourceFieldRef", message{1: str("containerName"), 2: str("resource"), 3: quantity("divisor")}),
		3: msg("configMapKeyRef", keySelector), 4: msg("secretKeyRef", keySelector)}
	container = message{1: str("name"), 2: str("image"), 3: strs("command"), 4: strs("args"), 5: str("workingDir"),
		6:  msgs("ports", message{1: str("name"), 3: i32("containerPort"), 4: str("protocol")}),
		7:  msgs("env", message{1: str("name"), 2: str("value"), 3: msg("valueFrom", envVarSource)}),
		19: msgs("envFrom", message{1: str("prefix"), 2: msg("configMapRef", envSource), 3: msg("secretRef", envSource)}),
		11: msg("readinessProbe", probe), 13: str("terminationMessagePath"), 20: str("terminationMessagePolicy"),
		14: str("imagePullPolicy"), 16: boolean("stdin"), 17: boolean("stdinOnce"), 18: boolean("tty"),
		8: msg("resources", message{1: quantityMap("limits"), 2: quantityMap("requests"),
			3: msgs("claims", message{1: str("name"), 2: str("request")})})}
	podSpec = message{2: msgs("containers", container), 20: msgs("initContainers", container),
		3: str("restartPolicy"), 4: i64("terminationGracePeriodSeconds"), 6: str("dnsPolicy"), 10: str("nodeName"),
		14: msg("securityContext", message{}), 19: str("schedulerName")}
	podTemplate = message{1: msg("metadata", objectMeta), 2: msg("spec", podSpec)}

	pod     = message{1: msg("metadata", objectMeta), 2: msg("spec", podSpec)}
	service = message{1: msg("metadata", objectMeta), 2: msg("spec", message{
		1: msgs("ports", message{1: str("name"), 2: str("protocol"), 3: i32("port"), 4: intOrString("targetPort"), 5: i32("nodePort")}),
		2: strMap("selector"), 3: str("clusterIP"), 18: strs("clusterIPs"), 4: str("type"), 5: strs("externalIPs"),
		7: str("sessionAffinity"), 19: strs("ipFamilies"), 17: str("ipFamilyPolicy"), 22: str("internalTrafficPolicy")})}
	deployment = message{1: msg("metadata", objectMeta), 2: msg("spec", message{
		1: i32("replicas"), 2: msg("selector", labelSelector), 3: msg("template", podTemplate),
		4: msg("strategy", message{1: str("type"),
			2: msg("rollingUpdate", message{1: intOrString("maxUnavailable"), 2: intOrString("maxSurge")})}),
		5: i32("minReadySeconds"), 6: i32("revisionHistoryLimit"), 7: boolean("paused"), 9: i32("progressDeadlineSeconds")})}
	configMap     = message{1: msg("metadata", objectMeta), 2: strMap("data"), 3: bytesMap("binaryData"), 4: boolean("immutable")}
	secret        = message{1: msg("metadata", objectMeta), 2: bytesMap("data"), 3: str("type"), 4: strMap("stringData"), 5: boolean("immutable")}
	scale         = message{1: msg("metadata", objectMeta), 2: msg("spec", message{1: i32("replicas")})}
	namespace     = message{1: msg("metadata", objectMeta), 2: msg("spec", message{1: strs("finalizers")}), 3: msg("status", message{1: str("phase")})}
	deleteOptions = message{1: i64("gracePeriodSeconds"), 2: msg("preconditions", message{1: str("uid"), 2: str("resourceVersion")}),
		3: boolean("orphanDependents"), 4: str("propagationPolicy"), 5: strs("dryRun")}

	roots = map[string]message{
		"v1/Pod":               pod,
		"v1/Service":           service,
		"v1/Namespace":         namespace,
		"v1/ConfigMap":         configMap,
		"v1/Secret":            secret,
		"apps/v1/Deployment":   deployment,
		"autoscaling/v1/Scale": scale,
	}
)

// decode reads the fields of one message of type m from b into out.
// Fields not in m are skipped unread, so the nesting is bounded by the
// messages': the acyclic schema bounds the recursion.
func decode(b []byte, m message, out map[string]any) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("truncated field tag")
		}
		b = b[n:]
		num, wire := tag>>3, tag&7
		if num == 0 {
			return errors.New("field number 0")
		}
		var v uint64   // a varint's value
		var val []byte // a length-delimited value
		switch wire {
		case 0:
			if v, n = binary.Uvarint(b); n <= 0 {
				return fmt.Errorf("field %d: truncated varint", num)
			}
			b = b[n:]
		case 1, 5:
			size := 8
			if wire == 5 {
				size = 4
			}
			if len(b) < size {
				return fmt.Errorf("field %d: truncated fixed value", num)
			}
			b = b[size:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("field %d: truncated length-delimited value", num)
			}
			val, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("field %d: wire type %d is not supported", num, wire)
		}
		f, known := m[num]
		if !known {
			continue
		}
		if err := f.set(out, wire, v, val); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// set stores one occurrence of f, read as a varint v or bytes val.
func (f field) set(out map[string]any, wire, v uint64, val []byte) error {
	want := uint64(2)
	switch f.kind {
	case kInt32, kInt64, kBool:
		want = 0
	}
	if wire != want {
		return fmt.Errorf("wire type %d, want %d", wire, want)
	}
	var x any
	switch f.kind {
	case kString, kBytes:
		x = string(val)
	case kInt32:
		x = int64(int32(v)) // negative int32s are sign-extended to 64 bits
	case kInt64:
		x = int64(v)
	case kBool:
		x = v != 0
	case kMessage:
		if f.inline {
			return decode(val, f.msg, out)
		}
		if !f.repeated {
			into, _ := out[f.name].(map[string]any) // a message given twice merges
			if into == nil {
				into = map[string]any{}
			}
			out[f.name] = into
			return decode(val, f.msg, into)
		}
		into := map[string]any{}
		if err := decode(val, f.msg, into); err != nil {
			return err
		}
		x = into
	case kStringMap, kBytesMap, kQuantityMap:
		value := str("value")
		if f.kind == kQuantityMap {
			value = quantity("value")
		}
		entry := map[string]any{}
		if err := decode(val, message{1: str("key"), 2: value}, entry); err != nil {
			return err
		}
		into, _ := out[f.name].(map[string]any)
		if into == nil {
			into = map[string]any{}
			out[f.name] = into
		}
		k, _ := entry["key"].(string)
		v, ok := entry["value"]
		switch {
		case f.kind == kBytesMap:
			s, _ := v.(string)
			v = base64.StdEncoding.EncodeToString([]byte(s))
		case !ok && f.kind == kQuantityMap:
			v = "0" // an entry without its value holds the zero quantity
		case !ok:
			v = ""
		}
		into[k] = v
		return nil
	case kRawJSON:
		r := map[string]any{}
		if err := decode(val, message{1: {name: "raw", kind: kBytes}}, r); err != nil {
			return err
		}
		raw, _ := r["raw"].(string)
		if err := json.Unmarshal([]byte(raw), &x); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	case kQuantity:
		q := map[string]any{}
		if err := decode(val, message{1: str("string")}, q); err != nil {
			return err
		}
		x, _ = q["string"].(string)
	case kTime:
		t := map[string]any{}
		if err := decode(val, message{1: i64("seconds"), 2: i32("nanos")}, t); err != nil {
			return err
		}
		if len(val) == 0 {
			out[f.name] = nil // the zero time; the epoch is written out
			return nil
		}
		s, _ := t["seconds"].(int64)
		ns, _ := t["nanos"].(int64)
		x = time.Unix(s, ns).UTC().Format(time.RFC3339)
	case kIntOrString:
		t := map[string]any{}
		if err := decode(val, message{1: i64("type"), 2: i32("intVal"), 3: str("strVal")}, t); err != nil {
			return err
		}
		if typ, _ := t["type"].(int64); typ == 1 {
			x, _ = t["strVal"].(string)
		} else {
			n, _ := t["intVal"].(int64)
			x = n
		}
	}
	if f.repeated {
		list, _ := out[f.name].([]any)
		out[f.name] = append(list, x)
		return nil
	}
	out[f.name] = x
	return nil
}
