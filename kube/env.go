package kube

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// EnvFieldPaths are the pod fields an env var may read (valueFrom.fieldRef),
// besides metadata.labels['KEY'] and metadata.annotations['KEY'], as the
// API server allows them.
var EnvFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

// EnvResourceFields are the resources an env var may read
// (valueFrom.resourceFieldRef).
var EnvResourceFields = []string{
	"limits.cpu", "limits.ephemeral-storage", "limits.memory",
	"requests.cpu", "requests.ephemeral-storage", "requests.memory",
}

// SplitFieldPath splits a subscripted field path, metadata.labels['app'],
// into its path and key; ok is false for a path without a subscript.
func SplitFieldPath(fieldPath string) (path, key string, ok bool) {
	path, rest, found := strings.Cut(fieldPath, "['")
	if !found || !strings.HasSuffix(rest, "']") {
		return fieldPath, "", false
	}
	return path, strings.TrimSuffix(rest, "']"), true
}

// checkEnvName returns why s cannot name an environment variable (it must
// be printable ASCII without '=', as the API server's relaxed rule has
// it), or "".
func checkEnvName(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' || s[i] == '=' {
			return "a valid environment variable name must consist only of printable ASCII characters other than '='"
		}
	}
	return ""
}

func validateEnvVar(e *EnvVar, path string) *fieldError {
	if e.Name == "" {
		return &fieldError{path + ".name", "required"}
	}
	if msg := checkEnvName(e.Name); msg != "" {
		return &fieldError{path + ".name", invalid(e.Name, msg)}
	}
	vf := e.ValueFrom
	if vf == nil {
		return nil
	}
	path += ".valueFrom"
	n := 0
	for _, set := range []bool{vf.FieldRef != nil, vf.ResourceFieldRef != nil, vf.ConfigMapKeyRef != nil, vf.SecretKeyRef != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return &fieldError{path, "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"}
	case e.Value != "":
		return &fieldError{path, "Invalid value: \"\": may not be specified when `value` is not empty"}
	case n > 1:
		return &fieldError{path, "Invalid value: \"\": may not have more than one field specified at a time"}
	}
	switch {
	case vf.FieldRef != nil:
		return validateFieldRef(vf.FieldRef, path+".fieldRef")
	case vf.ResourceFieldRef != nil:
		r := vf.ResourceFieldRef.Resource
		switch {
		case r == "":
			return &fieldError{path + ".resourceFieldRef.resource", "required"}
		case !slices.Contains(EnvResourceFields, r):
			return &fieldError{path + ".resourceFieldRef.resource", unsupported(r, EnvResourceFields)}
		}
		if _, ok := Divisor(vf.ResourceFieldRef); !ok {
			msg := "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with this resource"
			if strings.HasSuffix(r, ".cpu") {
				msg = "only divisor's values 1m and 1 are supported with the cpu resource"
			}
			return &fieldError{path + ".resourceFieldRef.divisor", invalid(r, msg)}
		}
	case vf.ConfigMapKeyRef != nil:
		return validateKeySelector(vf.ConfigMapKeyRef, path+".configMapKeyRef")
	case vf.SecretKeyRef != nil:
		return validateKeySelector(vf.SecretKeyRef, path+".secretKeyRef")
	}
	return nil
}

func validateFieldRef(f *ObjectFieldSelector, path string) *fieldError {
	if f.APIVersion != "" && f.APIVersion != "v1" {
		return &fieldError{path + ".fieldPath", invalid(f.FieldPath, fmt.Sprintf("error converting fieldPath: unsupported pod version: %s", f.APIVersion))}
	}
	if f.FieldPath == "" {
		return &fieldError{path + ".fieldPath", "required"}
	}
	if p, key, ok := SplitFieldPath(f.FieldPath); ok {
		switch p {
		case "metadata.labels":
			if fe := checkLabels(path, map[string]string{key: ""}); fe != nil {
				return fe
			}
		case "metadata.annotations":
			if fe := checkLabels(path, map[string]string{strings.ToLower(key): ""}); fe != nil {
				return fe
			}
		default:
			return &fieldError{path, invalid(p, "does not support subscript")}
		}
		return nil
	}
	if !slices.Contains(EnvFieldPaths, f.FieldPath) {
		return &fieldError{path + ".fieldPath", unsupported(f.FieldPath, EnvFieldPaths)}
	}
	return nil
}

func validateKeySelector(s *KeySelector, path string) *fieldError {
	if s.Name == "" {
		return &fieldError{path + ".name", "required"}
	}
	if s.Key == "" {
		return &fieldError{path + ".key", "required"}
	}
	if msgs := configKeyProblems(s.Key); len(msgs) > 0 {
		return &fieldError{path + ".key", invalidValue(s.Key, msgs[0])}
	}
	return nil
}

func validateEnvFrom(e *EnvFromSource, path string) *fieldError {
	if e.Prefix != "" {
		if msg := checkEnvName(e.Prefix); msg != "" {
			return &fieldError{path + ".prefix", invalid(e.Prefix, msg)}
		}
	}
	switch {
	case e.ConfigMapRef == nil && e.SecretRef == nil:
		return &fieldError{path, "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"}
	case e.ConfigMapRef != nil && e.SecretRef != nil:
		return &fieldError{path, "Invalid value: \"\": may not have more than one field specified at a time"}
	case e.ConfigMapRef != nil && e.ConfigMapRef.Name == "":
		return &fieldError{path + ".configMapRef.name", "required"}
	case e.SecretRef != nil && e.SecretRef.Name == "":
		return &fieldError{path + ".secretRef.name", "required"}
	}
	return nil
}

func unsupported(v string, supported []string) string {
	q := make([]string, len(supported))
	for i, s := range supported {
		q[i] = fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("Unsupported value: %q: supported values: %s", v, strings.Join(q, ", "))
}

// byteDivisors are the divisors of memory and ephemeral storage, in
// bytes.
var byteDivisors = map[string]float64{
	"1": 1, "1k": 1e3, "1M": 1e6, "1G": 1e9, "1T": 1e12, "1P": 1e15, "1E": 1e18,
	"1Ki": 1 << 10, "1Mi": 1 << 20, "1Gi": 1 << 30, "1Ti": 1 << 40, "1Pi": 1 << 50, "1Ei": 1 << 60,
}

// Divisor is the divisor of a resource field in the resource's unit
// (cores for cpu, bytes otherwise): 1 when unset or 0; ok is false for
// one the API server refuses.
func Divisor(f *ResourceFieldSelector) (d float64, ok bool) {
	var s string
	switch v := f.Divisor.(type) {
	case nil:
		return 1, true
	case string:
		s = v
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return 0, false
	}
	if s == "0" || s == "" {
		return 1, true
	}
	if strings.HasSuffix(f.Resource, ".cpu") {
		switch s {
		case "1":
			return 1, true
		case "1m":
			return 1e-3, true
		}
		return 0, false
	}
	d, ok = byteDivisors[s]
	return d, ok
}
