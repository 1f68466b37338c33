package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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
