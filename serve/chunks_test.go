package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// TestListChunks: a list with a limit comes in pages (the interop suite
// compares them with the API server's), and a continue token the
// history no longer reaches is the API server's 410 Expired, whose
// metadata carries a token to go on with.
func TestListChunks(t *testing.T) {
	s, _ := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("keep")}})
	const cms = "/api/v1/namespaces/default/configmaps"
	for _, n := range []string{"c", "a", "b"} {
		if code, body := do(t, s, "POST", cms, `{"metadata":{"name":"`+n+`"}}`); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", n, code, body)
		}
	}
	var page kube.ConfigMapList
	getJSON(t, s, cms+"?limit=2", &page)
	if len(page.Items) != 2 || page.Items[1].Name != "b" || page.Continue == "" || page.RemainingItemCount == nil || *page.RemainingItemCount != 1 {
		t.Fatalf("first page: %d items, continue %q, remaining %v", len(page.Items), page.Continue, page.RemainingItemCount)
	}
	for i := range 1100 { // past the history kept
		if code, body := doAs(t, s, "PATCH", cms+"/a", "application/merge-patch+json", fmt.Sprintf(`{"data":{"n":"%d"}}`, i)); code != http.StatusOK {
			t.Fatalf("patch: %d %s", code, body)
		}
	}
	code, body := doAs(t, s, "GET", cms+"?limit=2&continue="+url.QueryEscape(page.Continue), "", "")
	var st struct {
		Reason, Message string
		Code            int
		Metadata        struct{ Continue string }
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusGone || st.Reason != "Expired" ||
		!strings.HasPrefix(st.Message, "The provided continue parameter is too old") || st.Metadata.Continue == "" {
		t.Fatalf("an expired token: %d %s", code, body)
	}
	var rest kube.ConfigMapList
	getJSON(t, s, cms+"?limit=2&continue="+url.QueryEscape(st.Metadata.Continue), &rest)
	if len(rest.Items) != 1 || rest.Items[0].Name != "c" || rest.Continue != "" {
		t.Errorf("going on from the expired list: %+v", rest)
	}
}
