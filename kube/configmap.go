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
		if msg := checkConfigKey(k); msg != "" {
			return &fieldError{"data[" + k + "]", invalid(k, msg)}
		}
		if _, dup := cm.BinaryData[k]; dup {
			return &fieldError{"data[" + k + "]", invalid(k, "duplicate of key present in binaryData")}
		}
		size += len(cm.Data[k])
	}
	for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		if msg := checkConfigKey(k); msg != "" {
			return &fieldError{"binaryData[" + k + "]", invalid(k, msg)}
		}
		size += len(cm.BinaryData[k])
	}
	if size > MaxConfigMapData {
		return &fieldError{"data", fmt.Sprintf("Too long: may not be more than %d bytes (the values are %d)", MaxConfigMapData, size)}
	}
	return nil
}

// checkConfigKey returns why s is not a ConfigMap key (1 to 253
// alphanumerics, '-', '_' or '.', not "." or ".." or starting ".."), or
// "".
func checkConfigKey(s string) string {
	const msg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (at most 253)"
	if s == "" || len(s) > 253 {
		return msg
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return msg
		}
	}
	switch {
	case s == "." || s == "..":
		return "must not be '.' or '..'"
	case strings.HasPrefix(s, ".."):
		return "must not start with '..'"
	}
	return ""
}
