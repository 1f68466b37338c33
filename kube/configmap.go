package kube

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ConfigMap is a v1 ConfigMap: configuration a pod's containers read
// into their environment (env valueFrom.configMapKeyRef, envFrom).
type ConfigMap struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Immutable  *bool             `json:"immutable,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	// BinaryData's values are bytes, base64 in JSON as in the API.
	BinaryData map[string][]byte `json:"binaryData,omitempty"`
}

// ConfigMapList is a v1 ConfigMapList.
type ConfigMapList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []ConfigMap `json:"items"`
}

// MaxConfigMapData bounds the bytes of a ConfigMap's values, data and
// binaryData together, as the API server does (1 MiB).
const MaxConfigMapData = 1 << 20

// Validate checks a ConfigMap as the API server does: a DNS-1123
// subdomain name, keys of alphanumerics, '-', '_' and '.', no key in both
// data and binaryData, at most MaxConfigMapData bytes of values. Every
// problem is reported, in a FieldErrors (keys in sorted order, where the
// API server's follows its map's).
func (cm *ConfigMap) Validate() error { return asErrors(validateConfigMap(cm)) }

func validateConfigMap(cm *ConfigMap) []*fieldError {
	if fe := validateMeta(&cm.ObjectMeta, false); fe != nil {
		return []*fieldError{fe}
	}
	var errs []*fieldError
	size := 0
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		for _, msg := range configKeyProblems(k) {
			errs = append(errs, &fieldError{"data[" + k + "]", invalidValue(k, msg)})
		}
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, &fieldError{"data[" + k + "]", invalidValue(k, "duplicate of key present in binaryData")})
		}
		size += len(cm.Data[k])
	}
	for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		for _, msg := range configKeyProblems(k) {
			errs = append(errs, &fieldError{"binaryData[" + k + "]", invalidValue(k, msg)})
		}
		size += len(cm.BinaryData[k])
	}
	if size > MaxConfigMapData {
		// The whole object's, which the API server names [].
		errs = append(errs, &fieldError{"[]", fmt.Sprintf("Too long: may not be more than %d bytes", MaxConfigMapData)})
	}
	return errs
}

// ValidateConfigMapUpdate checks cm in place of old as the API server
// does: an immutable ConfigMap's data, binaryData and immutability do not
// change, and cm is valid. Every problem is reported, in a FieldErrors.
func ValidateConfigMapUpdate(cm, old *ConfigMap) error {
	var errs []*fieldError
	if old.Immutable != nil && *old.Immutable {
		const frozen = "Forbidden: field is immutable when `immutable` is set"
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, &fieldError{"immutable", frozen})
		}
		if !maps.Equal(cm.Data, old.Data) {
			errs = append(errs, &fieldError{"data", frozen})
		}
		if !maps.EqualFunc(cm.BinaryData, old.BinaryData, bytes.Equal) {
			errs = append(errs, &fieldError{"binaryData", frozen})
		}
	}
	return asErrors(append(errs, validateConfigMap(cm)...))
}

// configKeyProblems are why s is not a ConfigMap's or Secret's key, in
// the API server's words and order: at most 253 bytes, of alphanumerics,
// '-', '_' or '.', and not "." or ".." or starting "..".
func configKeyProblems(s string) []string {
	var msgs []string
	if len(s) > 253 {
		msgs = append(msgs, "must be no more than 253 characters")
	}
	valid := s != ""
	for i := 0; i < len(s) && valid; i++ {
		c := s[i]
		valid = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if !valid {
		msgs = append(msgs, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "+
			"(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
	}
	switch {
	case s == ".":
		msgs = append(msgs, "must not be '.'")
	case s == "..":
		msgs = append(msgs, "must not be '..'")
	case strings.HasPrefix(s, ".."):
		msgs = append(msgs, "must not start with '..'")
	}
	return msgs
}

// invalidValue is the API server's reason for a string field's invalid
// value v.
func invalidValue(v, msg string) string { return fmt.Sprintf("Invalid value: %q: %s", v, msg) }
