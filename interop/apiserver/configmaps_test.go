package apiserver

import (
	"strings"
	"testing"
)

// TestSameConfigMaps: ConfigMaps are refused on porthole serve as on the
// real API server, every problem reported with its cause: bad keys in
// data and binaryData, a key in both, too many bytes, and an immutable
// one's changes. Each step's status, message, causes and warnings, and
// the object's data and managedFields are compared.
func TestSameConfigMaps(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	ns := sameNamespace(t, srv, "configmaps-")
	configMap := func(name, rest string) string {
		return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},` + rest + "}"
	}
	col := "/api/v1/namespaces/" + ns + "/configmaps"
	const merge = "application/merge-patch+json"
	steps := []struct {
		name, method, path, ctype, body string
	}{
		// One bad key to a map: the API server reports a map's keys in its
		// iteration order, which changes from one request to the next.
		{"a bad key in each bag", "POST", col, "application/json",
			configMap("bad", `"data":{".":"1","ok":"2"},"binaryData":{"..x":"eA==","fine":"eA=="}`)},
		{"a key in both", "POST", col, "application/json", configMap("both", `"data":{"k":"1"},"binaryData":{"k":"eA=="}`)},
		{"a key too long and bad", "POST", col, "application/json", configMap("long", `"data":{"`+strings.Repeat("k", 253)+`@":"1"}`)},
		{"too large", "POST", col, "application/json", configMap("big", `"data":{"a":"`+strings.Repeat("x", 1<<19)+`","c":"`+
			strings.Repeat("x", 1<<17)+`x"},"binaryData":{"b":"`+strings.Repeat("eHh4", 1<<17)+`"}`)},
		{"created", "POST", col + "?fieldManager=alice", "application/json", configMap("app", `"data":{"a":"1"},"binaryData":{"b":"eA=="}`)},
		{"made immutable", "PATCH", col + "/app", merge, `{"immutable":true}`},
		{"immutable: all of it", "PATCH", col + "/app", merge, `{"immutable":false,"data":{"a":"2"},"binaryData":null}`},
		{"immutable: a bad key too", "PATCH", col + "/app", merge, `{"data":{"a b":"2"}}`},
	}
	for _, s := range steps {
		want := sumUpData(t, env.cp.Config, s.method, s.path, s.ctype, s.body)
		got := sumUpData(t, srv.Config, s.method, s.path, s.ctype, s.body)
		t.Logf("%s: %s", s.name, want)
		if got != want {
			t.Errorf("%s: porthole answers\n%s\nthe API server\n%s", s.name, got, want)
		}
	}
}
