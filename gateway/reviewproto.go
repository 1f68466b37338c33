package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/porthole/porthole/kube"
)

// protobufType is the API server's protobuf media type. kubectl 1.32 and
// later send the self reviews in it (and accept JSON back).
const protobufType = "application/vnd.kubernetes.protobuf"

// protobufMagic starts every protobuf body the API server reads: then a
// runtime.Unknown (typeMeta 1, raw 2) whose raw is the object.
var protobufMagic = []byte("k8s\x00")

// reviewFromProto turns a self review's protobuf body into the JSON body
// kubectl 1.31 and earlier would have sent: its kind, apiVersion and spec
// (a review's metadata and status carry nothing the answer uses).
func reviewFromProto(b []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(b, protobufMagic)
	if !ok {
		return nil, errors.New("no k8s protobuf prefix")
	}
	var apiVersion, kind string
	var raw []byte
	err := eachField(rest, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			return eachField(v, func(num protowire.Number, v []byte) error {
				switch num {
				case 1:
					apiVersion = string(v)
				case 2:
					kind = string(v)
				}
				return nil
			})
		case 2:
			raw = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	var specBytes []byte
	if err := eachField(raw, func(num protowire.Number, v []byte) error {
		if num == 2 {
			specBytes = v
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("object: %w", err)
	}
	var spec any
	switch kind {
	case "SelfSubjectAccessReview":
		s, err := accessSpecFromProto(specBytes)
		if err != nil {
			return nil, fmt.Errorf("spec: %w", err)
		}
		spec = s
	case "SelfSubjectRulesReview":
		var s kube.SelfSubjectRulesReviewSpec
		if err := eachField(specBytes, func(num protowire.Number, v []byte) error {
			if num == 1 {
				s.Namespace = string(v)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("spec: %w", err)
		}
		spec = s
	case "SelfSubjectReview":
	default:
		return nil, fmt.Errorf("kind %q is not a self review", kind)
	}
	return json.Marshal(struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Spec       any    `json:"spec,omitempty"`
	}{kind, apiVersion, spec})
}

// accessSpecFromProto decodes a SelfSubjectAccessReviewSpec: resource
// attributes (1) or non-resource attributes (2).
func accessSpecFromProto(b []byte) (kube.SelfSubjectAccessReviewSpec, error) {
	var s kube.SelfSubjectAccessReviewSpec
	err := eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			ra := &kube.ResourceAttributes{}
			s.ResourceAttributes = ra
			strs := map[protowire.Number]*string{1: &ra.Namespace, 2: &ra.Verb, 3: &ra.Group, 4: &ra.Version,
				5: &ra.Resource, 6: &ra.Subresource, 7: &ra.Name}
			return eachField(v, func(num protowire.Number, v []byte) error {
				if p := strs[num]; p != nil {
					*p = string(v)
					return nil
				}
				var err error
				switch num {
				case 8:
					ra.FieldSelector, err = selectorFromProto(v)
				case 9:
					ra.LabelSelector, err = selectorFromProto(v)
				}
				return err
			})
		case 2:
			nr := &kube.NonResourceAttributes{}
			s.NonResourceAttributes = nr
			return eachField(v, func(num protowire.Number, v []byte) error {
				switch num {
				case 1:
					nr.Path = string(v)
				case 2:
					nr.Verb = string(v)
				}
				return nil
			})
		}
		return nil
	})
	return s, err
}

// selectorFromProto decodes a field or label selector's attributes
// (rawSelector 1, requirements 2 of key 1, operator 2, values 3) as JSON.
func selectorFromProto(b []byte) (json.RawMessage, error) {
	type requirement struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values,omitempty"`
	}
	var sel struct {
		RawSelector  string        `json:"rawSelector,omitempty"`
		Requirements []requirement `json:"requirements,omitempty"`
	}
	err := eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			sel.RawSelector = string(v)
		case 2:
			var r requirement
			if err := eachField(v, func(num protowire.Number, v []byte) error {
				switch num {
				case 1:
					r.Key = string(v)
				case 2:
					r.Operator = string(v)
				case 3:
					r.Values = append(r.Values, string(v))
				}
				return nil
			}); err != nil {
				return err
			}
			sel.Requirements = append(sel.Requirements, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(sel)
}

// eachField calls f with each length-delimited field of the message b,
// skipping fields of other wire types; a malformed message is an error.
func eachField(b []byte, f func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, v); err != nil {
			return err
		}
	}
	return nil
}
