package serve

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/golden"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/serve/cluster"
)

const (
	tableAccept  = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
	aggregated27 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
	aggregated33 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)

// testAPI is the API over testPods, at a fixed instant an hour after
// their creation.
func testAPI(tb testing.TB, src node.Runtime) http.Handler {
	pods := testPods()
	if src == nil {
		src = newFakeRuntime(pods...)
	}
	started := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	c, err := cluster.New(src, cluster.Objects{Pods: pods}, nil, cluster.WithClock(func() time.Time { return started }))
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.Stop()
		c.Wait()
	})
	now := func() time.Time { return time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC) }
	v := kube.VersionInfo{Major: "1", Minor: "33", GitVersion: "v1.33.0-porthole", GoVersion: "go", Compiler: "gc", Platform: "linux/amd64"}
	mux := http.NewServeMux()
	newAPI(src, c, v, started, now, slog.New(slog.DiscardHandler)).register(mux)
	return mux
}

func TestAPIRoutes(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, accept string
		code                       int
	}{
		{"version", "GET", "/version", "", 200},
		{"api", "GET", "/api", "", 200},
		{"api-aggregated-1.27", "GET", "/api", aggregated27, 200},
		{"apis-aggregated-1.33", "GET", "/apis", aggregated33, 200},
		{"api-only-aggregated", "GET", "/api", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", 406},
		{"api-v1", "GET", "/api/v1", "", 200},
		{"namespaces", "GET", "/api/v1/namespaces", "", 200},
		{"namespaces-table", "GET", "/api/v1/namespaces", tableAccept, 200},
		{"namespace", "GET", "/api/v1/namespaces/apps", "", 200},
		{"namespace-missing", "GET", "/api/v1/namespaces/nope", "", 404},
		{"namespaces-field", "GET", "/api/v1/namespaces?fieldSelector=metadata.name%3Dkube-system", "", 200},
		{"namespaces-bad-field", "GET", "/api/v1/namespaces?fieldSelector=spec.foo%3Dx", "", 400},
		{"namespaces-phase", "GET", "/api/v1/namespaces?fieldSelector=status.phase%3DActive,metadata.name!%3Ddefault", "", 200},
		{"namespaces-label", "GET", "/api/v1/namespaces?labelSelector=kubernetes.io/metadata.name%3Dapps", tableAccept, 200},
		{"pods-all", "GET", "/api/v1/pods", "", 200},
		{"pods-default", "GET", "/api/v1/namespaces/default/pods?limit=500", "", 200},
		{"pods-empty-namespace", "GET", "/api/v1/namespaces/nope/pods", "", 200},
		{"pods-label", "GET", "/api/v1/namespaces/default/pods?labelSelector=tier%3Dfront", "", 200},
		{"pods-label-set", "GET", "/api/v1/pods?labelSelector=app+in+(api,demo)", "", 200},
		{"pods-field-name", "GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Ddemo", "", 200},
		{"pods-bad-label", "GET", "/api/v1/pods?labelSelector=a+in+b", "", 400},
		{"pods-bad-field", "GET", "/api/v1/pods?fieldSelector=spec.foo%3Dbar", "", 400},
		{"pods-watch-bad-rv", "GET", "/api/v1/pods?watch=true&resourceVersion=x", "", 400},
		{"pods-watch-bad-timeout", "GET", "/api/v1/pods?watch=1&timeoutSeconds=-1", "", 400},
		{"pods-match-without-rv", "GET", "/api/v1/pods?resourceVersionMatch=NotOlderThan", "", 422},
		{"pods-match-exact-0", "GET", "/api/v1/pods?resourceVersion=0&resourceVersionMatch=Exact", "", 422},
		{"pods-match-unknown", "GET", "/api/v1/pods?resourceVersion=1&resourceVersionMatch=Newest", "", 422},
		{"pods-list-initial-events", "GET", "/api/v1/pods?sendInitialEvents=true", "", 422},
		{"pods-watch-initial-without-match", "GET", "/api/v1/pods?watch=1&sendInitialEvents=false", "", 422},
		{"pods-watch-match-without-initial", "GET", "/api/v1/pods?watch=1&resourceVersionMatch=NotOlderThan", "", 422},
		{"services", "GET", "/api/v1/services", "", 200},
		{"deployments", "GET", "/apis/apps/v1/namespaces/default/deployments", tableAccept, 200},
		{"deployment-missing", "GET", "/apis/apps/v1/namespaces/default/deployments/web", "", 404},
		{"apis", "GET", "/apis", "", 200},
		{"apis-apps", "GET", "/apis/apps", "", 200},
		{"apis-apps-v1", "GET", "/apis/apps/v1", "", 200},
		{"delete-pod-unsupported", "DELETE", "/api/v1/namespaces/default/pods/demo", "", 405},
		{"delete-pod-missing", "DELETE", "/api/v1/namespaces/default/pods/nope", "", 404},
		{"pods-table", "GET", "/api/v1/namespaces/default/pods?limit=500", tableAccept, 200},
		{"pods-table-v1beta1", "GET", "/api/v1/pods", "application/json;as=Table;v=v1beta1;g=meta.k8s.io", 200},
		{"pods-table-completed", "GET", "/api/v1/namespaces/batch/pods", tableAccept, 200},
		{"pods-table-object", "GET", "/api/v1/namespaces/apps/pods?includeObject=Object", tableAccept, 200},
		{"pods-table-none", "GET", "/api/v1/namespaces/apps/pods?includeObject=None", tableAccept, 200},
		{"pods-table-bad-include", "GET", "/api/v1/pods?includeObject=All", tableAccept, 400},
		{"pods-not-acceptable", "GET", "/api/v1/pods", "application/yaml", 406},
		{"pod", "GET", "/api/v1/namespaces/default/pods/demo", "application/json", 200},
		{"pod-table", "GET", "/api/v1/namespaces/default/pods/demo", tableAccept, 200},
		{"pod-status", "GET", "/api/v1/namespaces/apps/pods/api/status", "", 200},
		{"pod-ephemeralcontainers", "GET", "/api/v1/namespaces/apps/pods/api/ephemeralcontainers", "", 200},
		{"pod-ephemeralcontainers-delete", "DELETE", "/api/v1/namespaces/apps/pods/api/ephemeralcontainers", "", 405},
		{"pod-missing", "GET", "/api/v1/namespaces/default/pods/x", "", 404},
		{"pod-wrong-namespace", "GET", "/api/v1/namespaces/apps/pods/demo", "", 404},
		{"pod-delete", "DELETE", "/api/v1/namespaces/default/pods/demo", "", 405},
		{"pods-create", "POST", "/api/v1/namespaces/default/pods", "", 415},
		{"absent-group", "GET", "/apis/batch", "", 200},
		{"absent-group-version", "GET", "/apis/networking.k8s.io/v1", "", 200},
		{"absent-jobs", "GET", "/apis/batch/v1/namespaces/default/jobs?labelSelector=app%3Dweb", "", 200},
		{"absent-jobs-everywhere", "GET", "/apis/batch/v1/jobs", "", 200},
		{"absent-jobs-table", "GET", "/apis/batch/v1/namespaces/default/jobs", tableAccept, 200},
		{"absent-job", "GET", "/apis/batch/v1/namespaces/default/jobs/x", "", 404},
		{"absent-job-create", "POST", "/apis/batch/v1/namespaces/default/jobs", "application/json", 405},
		{"absent-pvs", "GET", "/api/v1/persistentvolumes", "", 200},
		{"absent-pv", "GET", "/api/v1/persistentvolumes/x", "", 404},
		{"absent-pvc", "GET", "/api/v1/namespaces/default/persistentvolumeclaims/x", "", 404},
		{"unknown-path", "GET", "/api/v1/serviceaccounts", "", 404},
		{"unknown-group", "GET", "/apis/policy/v1", "", 404},
		{"unknown-subresource", "GET", "/api/v1/namespaces/default/pods/demo/nonsense", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			testAPI(t, nil).ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("status %d, want %d; body %s", rec.Code, tc.code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("body is not JSON: %s", rec.Body)
			}
			golden.Compare(t, filepath.Join("api", tc.name+".json"), rec.Body.Bytes())
		})
	}
}

// TestAPIBrokenRuntime: a runtime that cannot say what its pods are
// stops the start with the cause, instead of serving a wrong list.
func TestAPIBrokenRuntime(t *testing.T) {
	c, err := cluster.New(brokenSource{}, cluster.Objects{Pods: testPods()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Start = %v, want the runtime's error", err)
	}
}

// TestAPIHead: HEAD answers like GET without a body.
func TestAPIHead(t *testing.T) {
	req := httptest.NewRequest("HEAD", "/api/v1/namespaces/default/pods/demo", nil)
	srv := httptest.NewServer(testAPI(t, nil))
	defer srv.Close()
	resp, err := http.Head(srv.URL + req.URL.Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %d %q, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		accept string
		tables bool
		want   negotiation
		ok     bool
	}{
		{"", true, negotiation{}, true},
		{"*/*", true, negotiation{}, true},
		{"application/json", true, negotiation{}, true},
		{tableAccept, true, negotiation{outTable, "meta.k8s.io/v1"}, true},
		{tableAccept, false, negotiation{}, true},
		{"application/json;as=Table;v=v1;g=meta.k8s.io", false, negotiation{}, false},
		{"application/json;as=Table;v=v2;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io", true, negotiation{outTable, "meta.k8s.io/v1beta1"}, true},
		{"application/vnd.kubernetes.protobuf, application/json", true, negotiation{}, true},
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", true, negotiation{}, false},
		{"text/html", true, negotiation{}, false},
		{"garbage;;;", true, negotiation{}, false},
	} {
		got, ok := negotiate(tc.accept, tc.tables)
		if got != tc.want || ok != tc.ok {
			t.Errorf("negotiate(%q, %v) = %+v, %v; want %+v, %v", tc.accept, tc.tables, got, ok, tc.want, tc.ok)
		}
	}
}
