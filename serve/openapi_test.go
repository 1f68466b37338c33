package serve

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPI: the OpenAPI v3 root names each group version's document
// under a URL with its content's hash; each document describes the PATCH
// of the kinds serve creates with the fieldValidation parameter, which is
// what kubectl apply looks for; v2 comes in JSON or, when asked (as
// client-go asks), in protobuf. These are the facts kubectl relies on;
// TestKubectlApply runs every kubectl against them.
func TestOpenAPI(t *testing.T) {
	s, _ := startServer(t, Options{})
	var root struct {
		Paths map[string]struct{ ServerRelativeURL string }
	}
	getJSON(t, s, "/openapi/v3", &root)
	if len(root.Paths) != 2 {
		t.Fatalf("root %+v, want api/v1 and apis/apps/v1", root)
	}
	for gv, kinds := range map[string][]string{"api/v1": {"ConfigMap", "Namespace", "Pod", "Secret", "Service"}, "apis/apps/v1": {"Deployment"}} {
		u := root.Paths[gv].ServerRelativeURL
		if !strings.HasPrefix(u, "/openapi/v3/"+gv+"?hash=") || len(u) != len("/openapi/v3/"+gv+"?hash=")+32 {
			t.Errorf("%s at %q", gv, u)
		}
		var doc struct {
			OpenAPI string
			Paths   map[string]struct {
				Patch struct {
					Parameters []struct{ Name, In string }
					GVK        map[string]string `json:"x-kubernetes-group-version-kind"`
				}
			}
		}
		getJSON(t, s, u, &doc)
		var got []string
		for path, p := range doc.Paths {
			if !strings.HasPrefix(path, "/"+gv+"/namespaces/{namespace}/") && path != "/api/v1/namespaces/{name}" {
				t.Errorf("%s: path %s", gv, path)
			}
			validated := false
			for _, q := range p.Patch.Parameters {
				validated = validated || q.Name == "fieldValidation" && q.In == "query"
			}
			if !validated || p.Patch.GVK["version"] != "v1" {
				t.Errorf("%s %s: %+v", gv, path, p.Patch)
			}
			got = append(got, p.Patch.GVK["kind"])
		}
		if slices.Sort(got); doc.OpenAPI != "3.0.0" || !slices.Equal(got, kinds) {
			t.Errorf("%s: %s %v, want %v", gv, doc.OpenAPI, got, kinds)
		}
	}
	if code, _ := get(t, s.URL()+"/openapi/v3/apis/batch/v1"); code != http.StatusNotFound {
		t.Errorf("an unknown group version: %d", code)
	}
	var v2 struct {
		Swagger string
		Paths   map[string]any
	}
	getJSON(t, s, "/openapi/v2", &v2)
	if v2.Swagger != "2.0" || len(v2.Paths) != 6 {
		t.Errorf("v2 %+v", v2)
	}
	req, _ := http.NewRequest("GET", s.URL()+"/openapi/v2", nil)
	req.Header.Set("Accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// swagger (field 1) "2.0" first, as gnostic's Document encodes it.
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasSuffix(ct, "+protobuf") || !strings.HasPrefix(string(b), "\x0a\x032.0") {
		t.Errorf("v2 in protobuf: %d %s %q", resp.StatusCode, ct, b[:min(len(b), 16)])
	}
}
