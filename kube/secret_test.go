package kube

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/selfcert"
)

// TestValidateSecret: each type's required keys, stringData folded in
// first, as the API server checks them.
func TestValidateSecret(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret Secret
		want   string
	}{
		{"opaque, empty", Secret{}, ""},
		{"unknown type", Secret{Type: "example.com/mine"}, ""},
		{"stringData key", Secret{StringData: map[string]string{"a/b": "x"}},
			`data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		{"service account token", Secret{Type: SecretTypeServiceAccountToken},
			"metadata.annotations[kubernetes.io/service-account.name]: Required value"},
		{"service account token, named", Secret{Type: SecretTypeServiceAccountToken,
			ObjectMeta: ObjectMeta{Annotations: map[string]string{ServiceAccountNameKey: "default"}}}, ""},
		{"dockercfg", Secret{Type: SecretTypeDockercfg}, "data[.dockercfg]: Required value"},
		{"dockercfg, not JSON", Secret{Type: SecretTypeDockercfg, StringData: map[string]string{".dockercfg": "[1]"}},
			`data[.dockercfg]: Invalid value: "<secret contents redacted>": json: cannot unmarshal array into Go value of type map[string]interface {}`},
		{"dockerconfigjson", Secret{Type: SecretTypeDockerConfigJSON, StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}}, ""},
		{"basic auth, neither", Secret{Type: SecretTypeBasicAuth}, "[data[username]: Required value, data[password]: Required value]"},
		{"tls, neither, a bad key", Secret{Type: SecretTypeTLS, StringData: map[string]string{"a b": "", "c@d": ""}},
			`[data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+'), ` +
				`data[c@d]: Invalid value: "c@d": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+'), ` +
				`data[tls.crt]: Required value, data[tls.key]: Required value]`},
		{"basic auth, an empty password", Secret{Type: SecretTypeBasicAuth, Data: map[string][]byte{"password": nil}}, ""},
		{"ssh, empty key", Secret{Type: SecretTypeSSHAuth, Data: map[string][]byte{"ssh-privatekey": nil}}, "data[ssh-privatekey]: Required value"},
		{"tls, no certificate", Secret{Type: SecretTypeTLS, StringData: map[string]string{"tls.key": "k"}}, "data[tls.crt]: Required value"},
		{"tls, both", Secret{Type: SecretTypeTLS, StringData: map[string]string{"tls.key": "", "tls.crt": ""}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.secret
			s.Name = "s"
			s.FoldStringData()
			got := ""
			if err := s.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFoldStringData: stringData's keys replace data's, stringData is
// gone, and no type is Opaque.
func TestFoldStringData(t *testing.T) {
	s := Secret{Data: map[string][]byte{"a": []byte("old"), "b": []byte("kept")}, StringData: map[string]string{"a": "new", "c": "added"}}
	s.FoldStringData()
	if s.StringData != nil || s.Type != SecretTypeOpaque || len(s.Data) != 3 ||
		string(s.Data["a"]) != "new" || string(s.Data["b"]) != "kept" || string(s.Data["c"]) != "added" {
		t.Errorf("folded: %+v", s)
	}
	var none Secret
	none.FoldStringData()
	if none.Data != nil {
		t.Errorf("no data: %+v", none.Data)
	}
}

// TestValidateSecretUpdate: the type never changes; an immutable
// Secret's data and immutability never do.
func TestValidateSecretUpdate(t *testing.T) {
	yes, no := true, false
	old := Secret{ObjectMeta: ObjectMeta{Name: "s"}, Type: SecretTypeOpaque, Data: map[string][]byte{"a": []byte("1")}}
	frozen := old
	frozen.Immutable = &yes
	for _, tc := range []struct {
		name     string
		old, new Secret
		want     string
	}{
		{"data changed", old, Secret{ObjectMeta: old.ObjectMeta, Type: SecretTypeOpaque, Data: map[string][]byte{"a": []byte("2")}}, ""},
		{"type changed", old, Secret{ObjectMeta: old.ObjectMeta, Type: SecretTypeBasicAuth, Data: old.Data},
			`[type: Invalid value: "kubernetes.io/basic-auth": field is immutable, data[username]: Required value, data[password]: Required value]`},
		{"type changed, valid", old, Secret{ObjectMeta: old.ObjectMeta, Type: SecretTypeBasicAuth, Data: map[string][]byte{"username": nil}},
			`type: Invalid value: "kubernetes.io/basic-auth": field is immutable`},
		{"made immutable", old, frozen, ""},
		{"immutable, unchanged", frozen, frozen, ""},
		{"immutable, data changed", frozen, Secret{ObjectMeta: old.ObjectMeta, Type: SecretTypeOpaque, Immutable: &yes, Data: map[string][]byte{"a": []byte("2")}},
			"data: Forbidden: field is immutable when `immutable` is set"},
		{"immutable no more", frozen, Secret{ObjectMeta: old.ObjectMeta, Type: SecretTypeOpaque, Immutable: &no, Data: old.Data},
			"immutable: Forbidden: field is immutable when `immutable` is set"},
		{"immutable, all of it changed", frozen, Secret{ObjectMeta: old.ObjectMeta, Type: SecretTypeTLS},
			"[type: Invalid value: \"kubernetes.io/tls\": field is immutable, immutable: Forbidden: field is immutable when `immutable` is set, " +
				"data: Forbidden: field is immutable when `immutable` is set, data[tls.crt]: Required value, data[tls.key]: Required value]"},
	} {
		got := ""
		if err := ValidateSecretUpdate(&tc.new, &tc.old); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSecretWarnings: a TLS Secret whose key is not its certificate's
// is warned of, with crypto/tls's reason, as the API server warns.
func TestSecretWarnings(t *testing.T) {
	crt, key, other := selfSigned(t)
	for _, tc := range []struct {
		name   string
		secret Secret
		want   string
	}{
		{"a pair", Secret{Type: SecretTypeTLS, Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}, ""},
		{"another key", Secret{Type: SecretTypeTLS, Data: map[string][]byte{"tls.crt": crt, "tls.key": other}}, "tls: private key does not match public key"},
		{"no PEM", Secret{Type: SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("x"), "tls.key": key}}, "tls: failed to find any PEM data in certificate input"},
		{"opaque", Secret{Type: SecretTypeOpaque, Data: map[string][]byte{"tls.crt": []byte("x")}}, ""},
	} {
		got := ""
		if w := SecretWarnings(&tc.secret); len(w) > 0 {
			got = w[0]
		}
		if got != tc.want {
			t.Errorf("%s: warned %q, want %q", tc.name, got, tc.want)
		}
	}
}

// selfSigned is a certificate and its key, PEM encoded, and another
// key (its authority's).
func selfSigned(t *testing.T) (crt, key, other []byte) {
	t.Helper()
	b, err := selfcert.Ensure(t.TempDir(), []string{"example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var files [3][]byte
	for i, name := range []string{"tls.crt", "tls.key", "ca.key"} {
		if files[i], err = os.ReadFile(filepath.Join(b.Dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return files[0], files[1], files[2]
}
