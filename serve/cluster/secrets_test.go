package cluster

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube"
)

// secretData is a Secret's data as strings, for comparing.
func secretData(c *Cluster, namespace, name string) (map[string]string, bool) {
	data, ok := c.SecretData(namespace, name)
	out := map[string]string{}
	for k, v := range data {
		out[k] = string(v)
	}
	return out, ok
}

// TestSecrets: Secrets are stored from the manifest and by creates,
// stringData folded into data and never kept, read by the runtime,
// changed by every kind of write unless immutable, never of another
// type, bounded in total, and deleted alone or with their namespace.
func TestSecrets(t *testing.T) {
	c := startCluster(t, newFake(), Objects{Secrets: []*kube.Secret{
		{ObjectMeta: kube.ObjectMeta{Name: "db", Namespace: "shop"}, Data: map[string][]byte{"user": []byte("bob")},
			StringData: map[string]string{"password": "s3cr3t"}},
	}})
	if data, ok := secretData(c, "shop", "db"); !ok || !maps.Equal(data, map[string]string{"user": "bob", "password": "s3cr3t"}) {
		t.Fatalf("the manifest's Secret: %v %v", data, ok)
	}
	if o, ok := c.Get(Secrets, "shop", "db"); !ok || o.(*kube.Secret).Type != "Opaque" || o.(*kube.Secret).StringData != nil {
		t.Errorf("the manifest's Secret stored as %+v", o)
	}
	if _, ok := c.Get(Namespaces, "", "shop"); !ok {
		t.Error("the manifest Secret's namespace was not made")
	}

	s, err := c.CreateSecret(&kube.Secret{ObjectMeta: kube.ObjectMeta{Name: "tls", Namespace: "default"}, Type: kube.SecretTypeTLS,
		StringData: map[string]string{"tls.crt": "c", "tls.key": "k"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind != "Secret" || s.UID == "" || s.StringData != nil || string(s.Data["tls.key"]) != "k" {
		t.Errorf("created %+v", s)
	}
	var inv *InvalidError
	for _, tc := range []struct {
		s    *kube.Secret
		want error // nil: an InvalidError with msg
		msg  string
	}{
		{&kube.Secret{ObjectMeta: kube.ObjectMeta{Name: "tls", Namespace: "default"}}, ErrExists, ""},
		{&kube.Secret{ObjectMeta: kube.ObjectMeta{Name: "x", Namespace: "nowhere"}}, ErrNotFound, ""},
		{&kube.Secret{ObjectMeta: kube.ObjectMeta{Name: "x", Namespace: "default"}, Type: kube.SecretTypeTLS,
			StringData: map[string]string{"tls.crt": "c"}}, nil, "data[tls.key]: Required value"},
	} {
		_, err := c.CreateSecret(tc.s)
		switch {
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("create %s/%s: %v, want %v", tc.s.Namespace, tc.s.Name, err, tc.want)
		case tc.want == nil && (!errors.As(err, &inv) || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("create %s/%s: %v, want an InvalidError with %q", tc.s.Namespace, tc.s.Name, err, tc.msg)
		}
	}

	// Every write folds stringData in: merge, strategic and JSON
	// patches, and a replace.
	if _, err := c.PatchSecret("default", "tls", []byte(`{"stringData":{"tls.key":"k2"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StrategicPatchSecret("default", "tls", []byte(`{"stringData":{"ca.crt":"ca"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.JSONPatchSecret("default", "tls", []byte(`[{"op":"add","path":"/stringData","value":{"note":"n"}}]`)); err != nil {
		t.Fatal(err)
	}
	if data, _ := secretData(c, "default", "tls"); !maps.Equal(data, map[string]string{"tls.crt": "c", "tls.key": "k2", "ca.crt": "ca", "note": "n"}) {
		t.Errorf("patched data %v", data)
	}
	if o, _ := c.Get(Secrets, "default", "tls"); o.(*kube.Secret).StringData != nil {
		t.Errorf("stringData kept: %v", o.(*kube.Secret).StringData)
	}
	for name, tc := range map[string]struct {
		write func() error
		msg   string
	}{
		"type patched": {func() error {
			_, err := c.PatchSecret("default", "tls", []byte(`{"type":"Opaque"}`))
			return err
		}, `type: Invalid value: "Opaque": field is immutable`},
		"replaced without a type": {func() error {
			_, err := c.UpdateSecret("default", "tls", []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls"},"data":{"tls.crt":"Yw==","tls.key":"aw=="}}`))
			return err
		}, `type: Invalid value: "Opaque": field is immutable`},
		"a required key removed": {func() error {
			_, err := c.PatchSecret("default", "tls", []byte(`{"data":{"tls.key":null}}`))
			return err
		}, "data[tls.key]: Required value"},
	} {
		if err := tc.write(); !errors.As(err, &inv) || err.Error() != tc.msg {
			t.Errorf("%s: %v, want %q", name, err, tc.msg)
		}
	}

	if _, err := c.StrategicPatchSecret("default", "tls", []byte(`{"immutable":true}`)); err != nil {
		t.Fatal(err)
	}
	for patch, msg := range map[string]string{
		`{"data":{"tls.crt":"eA=="}}`: "data: Forbidden: field is immutable when `immutable` is set",
		`{"stringData":{"new":"x"}}`:  "data: Forbidden: field is immutable when `immutable` is set",
		`{"immutable":false}`:         "immutable: Forbidden: field is immutable when `immutable` is set",
	} {
		if _, err := c.PatchSecret("default", "tls", []byte(patch)); !errors.As(err, &inv) || err.Error() != msg {
			t.Errorf("patch %s of an immutable Secret: %v, want %q", patch, err, msg)
		}
	}
	if u, err := c.PatchSecret("default", "tls", []byte(`{"metadata":{"labels":{"tier":"web"}}}`)); err != nil || u.Labels["tier"] != "web" {
		t.Errorf("label an immutable Secret: %+v %v", u, err)
	}

	// The values of all Secrets are bounded together.
	big := strings.Repeat("x", kube.MaxSecretData)
	var tooMany error
	for i := range MaxSecretTotal/kube.MaxSecretData + 1 {
		name := "big-" + strings.Repeat("a", i+1)
		if _, tooMany = c.CreateSecret(&kube.Secret{ObjectMeta: kube.ObjectMeta{Name: name, Namespace: "default"}, StringData: map[string]string{"v": big}}); tooMany != nil {
			break
		}
	}
	if !errors.Is(tooMany, ErrTooMany) || !strings.Contains(tooMany.Error(), "bytes of Secret values") {
		t.Errorf("past the total: %v, want ErrTooMany", tooMany)
	}

	if _, err := c.Delete(Secrets, "default", "tls", Foreground); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.SecretData("default", "tls"); ok {
		t.Error("the deleted Secret is still read")
	}
	if _, err := c.Delete(Namespaces, "", "shop", Background); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the namespace's Secret gone", func() bool {
		_, ok := c.SecretData("shop", "db")
		return !ok
	})
}
