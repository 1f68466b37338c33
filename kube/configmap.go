package kube

import (
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
// data and binaryData, at most MaxConfigMapData bytes of values.
func (cm *ConfigMap) Validate() error { return asError(validateConfigMap(cm)) }

func validateConfigMap(cm *ConfigMap) *fieldError {
	if fe := validateMeta(&cm.ObjectMeta, false); fe != nil {
		return fe
	}
	size := 0
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		if msgs := configKeyProblems(k); len(msgs) > 0 {
			return &fieldError{"data[" + k + "]", invalidValue(k, msgs[0])}
		}
		if _, dup := cm.BinaryData[k]; dup {
			return &fieldError{"data[" + k + "]", invalid(k, "duplicate of key present in binaryData")}
		}
		size += len(cm.Data[k])
	}
	for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		if msgs := configKeyProblems(k); len(msgs) > 0 {
			return &fieldError{"binaryData[" + k + "]", invalidValue(k, msgs[0])}
		}
		size += len(cm.BinaryData[k])
	}
	if size > MaxConfigMapData {
		return &fieldError{"data", fmt.Sprintf("Too long: may not be more than %d bytes (the values are %d)", MaxConfigMapData, size)}
	}
	return nil
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
