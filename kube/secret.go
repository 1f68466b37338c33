package kube

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Secret is a v1 Secret: credentials a pod's containers read into their
// environment (env valueFrom.secretKeyRef, envFrom secretRef).
type Secret struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Immutable  *bool `json:"immutable,omitempty"`
	// Data's values are bytes, base64 in JSON as in the API.
	Data map[string][]byte `json:"data,omitempty"`
	// StringData is write-only, as in the API: FoldStringData moves it
	// into Data, and a stored Secret never has it.
	StringData map[string]string `json:"stringData,omitempty"`
	Type       string            `json:"type,omitempty"`
}

// SecretList is a v1 SecretList.
type SecretList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Secret `json:"items"`
}

// The Secret types whose data the API server checks, and the keys it
// checks them for.
const (
	SecretTypeOpaque              = "Opaque"
	SecretTypeServiceAccountToken = "kubernetes.io/service-account-token"
	SecretTypeDockercfg           = "kubernetes.io/dockercfg"
	SecretTypeDockerConfigJSON    = "kubernetes.io/dockerconfigjson"
	SecretTypeBasicAuth           = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth             = "kubernetes.io/ssh-auth"
	SecretTypeTLS                 = "kubernetes.io/tls"

	ServiceAccountNameKey = "kubernetes.io/service-account.name"
)

// MaxSecretData bounds the bytes of a Secret's values, as the API server
// does (1 MiB).
const MaxSecretData = 1 << 20

// FoldStringData does what the API server does to every Secret written:
// stringData's keys replace data's, stringData is dropped, and an empty
// type is Opaque.
func (s *Secret) FoldStringData() {
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
}

// Validate checks a Secret, stringData folded in, as the API server
// does: a DNS-1123 subdomain name, config keys, at most MaxSecretData
// bytes of values, and the keys its type requires. Every problem is
// reported, in a FieldErrors.
func (s *Secret) Validate() error { return asErrors(validateSecret(s)) }

func validateSecret(s *Secret) []*fieldError {
	if fe := validateMeta(&s.ObjectMeta, false); fe != nil {
		return []*fieldError{fe}
	}
	var errs []*fieldError
	size := 0
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		for _, msg := range configKeyProblems(k) {
			errs = append(errs, &fieldError{"data[" + k + "]", invalidValue(k, msg)})
		}
		size += len(s.Data[k])
	}
	if size > MaxSecretData {
		errs = append(errs, &fieldError{"data", fmt.Sprintf("Too long: may not be more than %d bytes", MaxSecretData)})
	}
	has := func(k string) bool { _, ok := s.Data[k]; return ok }
	required := func(k string) *fieldError { return &fieldError{"data[" + k + "]", "Required value"} }
	switch s.Type {
	case SecretTypeServiceAccountToken:
		if s.Annotations[ServiceAccountNameKey] == "" {
			errs = append(errs, &fieldError{"metadata.annotations[" + ServiceAccountNameKey + "]", "Required value"})
		}
	case SecretTypeDockercfg, SecretTypeDockerConfigJSON:
		k := map[string]string{SecretTypeDockercfg: ".dockercfg", SecretTypeDockerConfigJSON: ".dockerconfigjson"}[s.Type]
		if !has(k) {
			errs = append(errs, required(k))
			break
		}
		if err := json.Unmarshal(s.Data[k], &map[string]any{}); err != nil {
			// The value is a credential: never echoed.
			errs = append(errs, &fieldError{"data[" + k + "]", `Invalid value: "<secret contents redacted>": ` + err.Error()})
		}
	case SecretTypeBasicAuth:
		if !has("username") && !has("password") {
			errs = append(errs, required("username"), required("password"))
		}
	case SecretTypeSSHAuth:
		if len(s.Data["ssh-privatekey"]) == 0 {
			errs = append(errs, required("ssh-privatekey"))
		}
	case SecretTypeTLS:
		for _, k := range []string{"tls.crt", "tls.key"} {
			if !has(k) {
				errs = append(errs, required(k))
			}
		}
	}
	return errs
}

// ValidateSecretUpdate checks s in place of old as the API server does:
// the type never changes, an immutable Secret's data and immutability do
// not either, and s is valid. Every problem is reported, in a
// FieldErrors.
func ValidateSecretUpdate(s, old *Secret) error {
	var errs []*fieldError
	if s.Type != old.Type {
		errs = append(errs, &fieldError{"type", fmt.Sprintf("Invalid value: %q: field is immutable", s.Type)})
	}
	if old.Immutable != nil && *old.Immutable {
		const frozen = "Forbidden: field is immutable when `immutable` is set"
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, &fieldError{"immutable", frozen})
		}
		if !maps.EqualFunc(s.Data, old.Data, bytes.Equal) {
			errs = append(errs, &fieldError{"data", frozen})
		}
	}
	return asErrors(append(errs, validateSecret(s)...))
}

// SecretWarnings are the warnings the API server gives on writing s: a
// TLS Secret whose key is not its certificate's.
func SecretWarnings(s *Secret) []string {
	if s.Type != SecretTypeTLS {
		return nil
	}
	if _, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"]); err != nil {
		return []string{err.Error()}
	}
	return nil
}
