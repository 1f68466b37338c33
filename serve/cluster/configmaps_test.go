package cluster

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube"
)

// TestConfigMaps: ConfigMaps are stored from the manifest and by
// creates (their namespace made or checked), read by the runtime, changed
// by patches and updates unless immutable, bounded in total, and deleted
// alone or with their namespace.
func TestConfigMaps(t *testing.T) {
	rt := newFake()
	c := startCluster(t, rt, Objects{ConfigMaps: []*kube.ConfigMap{
		{ObjectMeta: kube.ObjectMeta{Name: "app", Namespace: "shop"}, Data: map[string]string{"GREETING": "hello"}},
	}})
	if data, ok := c.ConfigMapData("shop", "app"); !ok || !maps.Equal(data, map[string]string{"GREETING": "hello"}) {
		t.Fatalf("the manifest's ConfigMap: %v %v", data, ok)
	}
	if _, ok := c.Get(Namespaces, "", "shop"); !ok {
		t.Error("the manifest ConfigMap's namespace was not made")
	}
	if _, ok := c.ConfigMapData("default", "app"); ok {
		t.Error("a ConfigMap found in the wrong namespace")
	}

	cm, err := c.CreateConfigMap(&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: "cfg", Namespace: "default"},
		Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": {0, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.UID == "" || cm.ResourceVersion == "" {
		t.Errorf("created %+v", cm)
	}
	var inv *InvalidError
	for _, tc := range []struct {
		cm   *kube.ConfigMap
		want error // nil: an InvalidError with msg
		msg  string
	}{
		{&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: "cfg", Namespace: "default"}}, ErrExists, ""},
		{&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: "x", Namespace: "nowhere"}}, ErrNotFound, ""},
		{&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: "x", Namespace: "default"}, Data: map[string]string{"a/b": ""}}, nil, "data[a/b]"},
	} {
		_, err := c.CreateConfigMap(tc.cm)
		switch {
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("create %s/%s: %v, want %v", tc.cm.Namespace, tc.cm.Name, err, tc.want)
		case tc.want == nil && (!errors.As(err, &inv) || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("create %s/%s: %v, want an InvalidError with %q", tc.cm.Namespace, tc.cm.Name, err, tc.msg)
		}
	}

	if _, err := c.StrategicPatchConfigMap("default", "cfg", []byte(`{"data":{"c":"3"},"immutable":true}`)); err != nil {
		t.Fatal(err)
	}
	if data, _ := c.ConfigMapData("default", "cfg"); !maps.Equal(data, map[string]string{"a": "1", "c": "3"}) {
		t.Errorf("patched data %v", data)
	}
	for patch, msg := range map[string]string{
		`{"data":{"a":"2"}}`:             "data: Forbidden: field is immutable when `immutable` is set",
		`{"binaryData":{"b":"AAI="}}`:    "binaryData: Forbidden: field is immutable when `immutable` is set",
		`{"immutable":false}`:            "immutable: Forbidden: field is immutable when `immutable` is set",
		`{"immutable":null,"data":null}`: "immutable: Forbidden",
	} {
		if _, err := c.PatchConfigMap("default", "cfg", []byte(patch)); !errors.As(err, &inv) || !strings.Contains(err.Error(), msg) {
			t.Errorf("patch %s of an immutable ConfigMap: %v, want %q", patch, err, msg)
		}
	}
	if u, err := c.PatchConfigMap("default", "cfg", []byte(`{"metadata":{"labels":{"tier":"web"}}}`)); err != nil || u.Labels["tier"] != "web" {
		t.Errorf("label an immutable ConfigMap: %+v %v", u, err)
	}

	// The values of all ConfigMaps are bounded together.
	big := strings.Repeat("x", kube.MaxConfigMapData)
	var tooMany error
	for i := range MaxConfigMapTotal/kube.MaxConfigMapData + 1 {
		name := "big-" + strings.Repeat("a", i+1)
		if _, tooMany = c.CreateConfigMap(&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"v": big}}); tooMany != nil {
			break
		}
	}
	if !errors.Is(tooMany, ErrTooMany) || !strings.Contains(tooMany.Error(), "bytes of ConfigMap values") {
		t.Errorf("past the total: %v, want ErrTooMany", tooMany)
	}
	if _, err := c.UpdateConfigMap("default", "big-a", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big-a"},"data":{"v":"small"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateConfigMap(&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: "fits-now", Namespace: "default"}, Data: map[string]string{"v": big}}); err != nil {
		t.Errorf("create once an update made room: %v", err)
	}

	if _, err := c.Delete(ConfigMaps, "default", "cfg", Foreground); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.ConfigMapData("default", "cfg"); ok {
		t.Error("the deleted ConfigMap is still read")
	}
	if _, err := c.Delete(Namespaces, "", "shop", Background); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the namespace's ConfigMap gone", func() bool {
		_, ok := c.ConfigMapData("shop", "app")
		return !ok
	})
}
