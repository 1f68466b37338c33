package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// FuzzAPIRequest: any path, query and Accept header get a JSON answer with
// a status code, never a panic; errors are Status documents.
func FuzzAPIRequest(f *testing.F) {
	f.Add("/api/v1/namespaces/default/pods", "labelSelector=app%3Ddemo&fieldSelector=metadata.name%3Ddemo", tableAccept)
	f.Add("/api/v1/pods", "includeObject=Object", "application/json;as=Table;v=v1;g=meta.k8s.io")
	f.Add("/api/v1/namespaces/x/pods/y/status", "", aggregated33)
	f.Add("/api", "", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
	f.Add("/api/v1/namespaces", "labelSelector=a+notin+(b,c)", "*/*;q=0.1")
	f.Add("/version", "watch=true", ";;;")
	f.Add("/api/v1/pods", "watch=1&labelSelector=app%3Ddemo", tableAccept)
	h := testAPI(f, nil)
	f.Fuzz(func(t *testing.T, path, query, accept string) {
		u := &url.URL{Path: "/" + path, RawQuery: query}
		req, err := http.NewRequest("GET", "http://example.com"+u.RequestURI(), nil)
		if err != nil {
			return
		}
		req.Header.Set("Accept", accept)
		// A watch streams until its client goes: this one goes at once,
		// after the events the watch starts with.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req = req.WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 && rec.Code < 400 {
			return // the mux redirects unclean paths (//a, /a/../b), as net/http does
		}
		if rec.Code == 200 && strings.Contains(query, "watch") {
			for _, line := range strings.SplitAfter(rec.Body.String(), "\n") {
				if line != "" && (!strings.HasSuffix(line, "\n") || !json.Valid([]byte(line))) {
					t.Fatalf("%s?%s: watch event not a JSON line: %q", u.Path, query, line)
				}
			}
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s?%s (%q): %d, body not JSON: %q", u.Path, query, accept, rec.Code, rec.Body)
		}
		if rec.Code != 200 {
			var st struct{ Kind string }
			json.Unmarshal(rec.Body.Bytes(), &st)
			if st.Kind != "Status" {
				t.Fatalf("%s?%s: %d without a Status: %s", u.Path, query, rec.Code, rec.Body)
			}
		}
	})
}

// runnerRuntime is a fakeRuntime that also adds and removes pods (kept in
// a map), so that writes reach the workload code.
type runnerRuntime struct {
	*fakeRuntime
	mu    sync.Mutex
	added map[node.PodRef]*kube.Pod
}

func (r *runnerRuntime) Pod(ctx context.Context, ns, name string) (*kube.Pod, error) {
	r.mu.Lock()
	p, ok := r.added[node.PodRef{Namespace: ns, Name: name}]
	r.mu.Unlock()
	if ok {
		cp := *p
		return &cp, nil
	}
	return r.fakeRuntime.Pod(ctx, ns, name)
}

func (r *runnerRuntime) AddPod(p *kube.Pod) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref := node.PodRef{Namespace: p.Namespace, Name: p.Name}
	if _, ok := r.added[ref]; ok {
		return node.ErrExists
	}
	cp := *p
	cp.Status = kube.PodStatus{Phase: "Running"}
	r.added[ref] = &cp
	return nil
}

func (r *runnerRuntime) RemovePodGrace(ns, name string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.added, node.PodRef{Namespace: ns, Name: name})
	return nil
}

// FuzzAPIWrite: any write (method, path, content type, body) gets a JSON
// answer, a Status when it is refused, never a panic.
func FuzzAPIWrite(f *testing.F) {
	deployment := `{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},` +
		`"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","command":["sleep","infinity"]}]}}}}`
	f.Add(uint8(0), "apis/apps/v1/namespaces/default/deployments", uint8(0), []byte(deployment))
	f.Add(uint8(0), "api/v1/namespaces/default/services", uint8(0), []byte(`{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"},"spec":{"ports":[{"port":80}],"selector":{"app":"web"}}}`))
	f.Add(uint8(1), "apis/apps/v1/namespaces/default/deployments/web", uint8(3), []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"v2"}]}}}}`))
	f.Add(uint8(1), "api/v1/namespaces/default/services/web", uint8(1), []byte(`[{"op":"replace","path":"/spec/ports/0/port","value":81}]`))
	f.Add(uint8(1), "api/v1/namespaces/default/pods/web-1", uint8(2), []byte(`{"metadata":{"labels":{"app":"x"}}}`))
	f.Add(uint8(2), "apis/apps/v1/namespaces/default/deployments/web", uint8(0), []byte(deployment))
	f.Add(uint8(3), "apis/apps/v1/namespaces/default/deployments/web?dryRun=All", uint8(0), []byte(`{"propagationPolicy":"Foreground"}`))
	f.Add(uint8(3), "apis/apps/v1/namespaces/default/replicasets/web-1", uint8(0), []byte(`{"preconditions":{"uid":"x"}}`))
	f.Add(uint8(0), "apis/apps/v1/namespaces/default/deployments", uint8(4), []byte("k8s\x00\x0a\x16\x0a\x07apps/v1\x12\x0aDeployment\x12\x00"))
	f.Add(uint8(0), "api/v1/namespaces", uint8(0), []byte(`{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"dev"}}`))
	f.Add(uint8(1), "api/v1/namespaces/apps", uint8(3), []byte(`{"metadata":{"labels":{"team":"web"}}}`))
	f.Add(uint8(3), "api/v1/namespaces/apps", uint8(0), []byte(``))
	f.Add(uint8(0), "api/v1/namespaces", uint8(4), []byte("k8s\x00\x0a\x0e\x0a\x02v1\x12\x09Namespace\x12\x07\x0a\x05\x0a\x03dev"))
	f.Add(uint8(0), "api/v1/namespaces/default/configmaps", uint8(0), []byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"app"},"data":{"a":"1"},"binaryData":{"b":"AP8="},"immutable":false}`))
	f.Add(uint8(1), "api/v1/namespaces/default/configmaps/app", uint8(3), []byte(`{"data":{"a":null,"c":"3"},"immutable":true}`))
	f.Add(uint8(2), "api/v1/namespaces/default/configmaps/app", uint8(0), []byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"app"},"data":{"a":"2"}}`))
	f.Add(uint8(3), "api/v1/namespaces/default/configmaps/app", uint8(0), []byte(``))
	f.Add(uint8(0), "api/v1/namespaces/default/pods", uint8(0), []byte(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"env"},"spec":{"containers":[{"name":"c",`+
		`"envFrom":[{"prefix":"P_","configMapRef":{"name":"app","optional":true}}],"env":[{"name":"N","valueFrom":{"fieldRef":{"fieldPath":"metadata.labels['a']"}}}]}]}}`))
	// Server-side applies: of YAML, merging, creating, conflicting.
	f.Add(uint8(1), "apis/apps/v1/namespaces/default/deployments/web?fieldManager=a", uint8(5),
		[]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {x: y}}\nspec:\n  replicas: 3\n"))
	f.Add(uint8(1), "apis/apps/v1/namespaces/default/deployments/new?fieldManager=b&force=true", uint8(5), []byte(deployment))
	f.Add(uint8(1), "api/v1/namespaces/default/configmaps/app?fieldManager=c", uint8(5), []byte("{apiVersion: v1, kind: ConfigMap, data: {a: '1'}}"))
	f.Add(uint8(2), "api/v1/namespaces/default/configmaps/app?fieldManager=d", uint8(0),
		[]byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"app","managedFields":[{"manager":"x","fieldsV1":{"f:data":{"f:a":{},"q":{}}}}]}}`))
	rt := &runnerRuntime{fakeRuntime: newFakeRuntime(testPods()...), added: map[node.PodRef]*kube.Pod{}}
	h := testAPI(f, rt)
	methods := []string{"POST", "PATCH", "PUT", "DELETE"}
	types := []string{"application/json", "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json",
		"application/vnd.kubernetes.protobuf", "application/apply-patch+yaml"}
	f.Fuzz(func(t *testing.T, method uint8, target string, contentType uint8, body []byte) {
		req, err := http.NewRequest(methods[int(method)%len(methods)], "http://example.com/"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", types[int(contentType)%len(types)])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 && rec.Code < 400 {
			return // the mux redirects unclean paths
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: %d, body not JSON: %q", req.Method, target, rec.Code, rec.Body)
		}
		if rec.Code >= 300 {
			var st struct{ Kind string }
			json.Unmarshal(rec.Body.Bytes(), &st)
			if st.Kind != "Status" {
				t.Fatalf("%s %s: %d without a Status: %s", req.Method, target, rec.Code, rec.Body)
			}
		}
	})
}
