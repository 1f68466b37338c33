package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// TestSameListChunks: lists in chunks (limit and continue, as kubectl
// get, client-go's pager and the official clients' list calls page) go
// the same way on porthole serve as on the real API server: the items of
// each page and their order (by namespace, then name, as the API
// server's keys sort), whether a page says more remain and how many,
// the start key its continue token names, a list's consistency across
// writes made between its pages, and the refusals of bad tokens and
// limits.
func TestSameListChunks(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	const js = "application/json"
	pg := uniqueName("pg")
	setup := func(cfg *rest.Config) {
		makeNamespace(t, cfg, pg)
		makeNamespace(t, cfg, pg+"-b")
		for _, n := range []string{"pg/c", "pg/a", "pg/e", "pg/b", "pg/d", "pg-b/y", "pg-b/x", "pg/z"} {
			ns, name, _ := strings.Cut(n, "/")
			ns = strings.Replace(ns, "pg", pg, 1)
			label := pg
			if name == "z" {
				label = "other"
			}
			if code, body := send(t, cfg, "POST", "/api/v1/namespaces/"+ns+"/configmaps", js,
				`{"metadata":{"name":"`+name+`","labels":{"t":"`+label+`"}},"data":{"k":"`+n+`"}}`); code != 201 {
				t.Fatalf("config map %s: %d %s", n, code, body)
			}
		}
	}
	answers := make([][]string, 2)
	for i, cfg := range []*rest.Config{env.cp.Config, srv.Config} {
		setup(cfg)
		say := func(format string, args ...any) { answers[i] = append(answers[i], fmt.Sprintf(format, args...)) }
		say("pages of 2: %s", pages(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?limit=2", nil))
		say("all namespaces, selected, pages of 3: %s", pages(t, cfg, "/api/v1/configmaps?labelSelector=t%3D"+pg+"&limit=3", nil))
		say("selected by field, pages of 1: %s", pages(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?fieldSelector=metadata.name%21%3Dc&limit=1", nil))
		say("selected, the last page full: %s", pages(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?labelSelector=t%3D"+pg+"&limit=5", nil))
		say("a limit past the end: %s", pages(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?limit=50", nil))
		say("resourceVersion 0: %s", pages(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?limit=2&resourceVersion=0", nil))
		say("limit 0: %s", pages(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?limit=0", nil))
		say("a negative limit: %s", pages(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?limit=-1", nil))
		say("a table, pages of 2: %s", pages(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?limit=2&includeObject=None", map[string]string{"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}))
		// Writes between the pages: the list stays as it was.
		writes := func() {
			send(t, cfg, "POST", "/api/v1/namespaces/"+pg+"/configmaps", js, `{"metadata":{"name":"bb"},"data":{}}`)
			send(t, cfg, "DELETE", "/api/v1/namespaces/"+pg+"/configmaps/d", "", "")
			send(t, cfg, "PATCH", "/api/v1/namespaces/"+pg+"/configmaps/e", "application/merge-patch+json", `{"data":{"k":"changed"}}`)
		}
		say("written between pages: %s", pagesWriting(t, cfg, "/api/v1/namespaces/"+pg+"/configmaps?limit=2", writes))
		for _, c := range []struct{ name, query string }{
			{"a limit that is not a number", "limit=x"},
			{"a token that is not base64", "limit=2&continue=%25%25"},
			{"a token that is not JSON", "limit=2&continue=" + base64.RawURLEncoding.EncodeToString([]byte("x"))},
			{"a token of another version", "limit=2&continue=" + token(`{"v":"x","rv":5,"start":"a"}`)},
			{"a token without a version", "limit=2&continue=" + token(`{"v":"meta.k8s.io/v1","rv":0,"start":"a"}`)},
			{"a token without a key", "limit=2&continue=" + token(`{"v":"meta.k8s.io/v1","rv":5,"start":""}`)},
			{"a token leaving its prefix", "limit=2&continue=" + token(`{"v":"meta.k8s.io/v1","rv":5,"start":"../secrets/x"}`)},
			{"a token and a resourceVersion", "limit=2&resourceVersion=5&continue=" + token(`{"v":"meta.k8s.io/v1","rv":5,"start":"a"}`)},
		} {
			code, raw := send(t, cfg, "GET", "/api/v1/namespaces/"+pg+"/configmaps?"+c.query, "", "")
			var st struct {
				Reason, Message string
				Metadata        struct{ Continue string }
			}
			_ = json.Unmarshal(raw, &st)
			say("%s: %d %s: %s (continue %s)", c.name, code, st.Reason, st.Message, startOf(st.Metadata.Continue))
		}
	}
	// Each kubectl's get in chunks (--chunk-size; kubectl reads a Table).
	for _, k := range env.kubectls {
		for i, kubeconfig := range []string{env.adminKubeconfig, srv.Kubeconfig} {
			c := direct(k, k.Wires()[0], nil, t.TempDir())
			for _, args := range [][]string{
				{"get", "configmaps", "-n", pg, "--chunk-size=2", "-o", "custom-columns=NAME:.metadata.name,K:.data.k"},
				{"get", "configmaps", "-A", "-l", "t=" + pg, "--chunk-size=1", "-o", "name"},
				{"get", "configmaps", "-n", pg, "--chunk-size=4", "-o", "jsonpath={.metadata}"},
			} {
				r := c.run(t, kubeconfig, nil, args...)
				answers[i] = append(answers[i], fmt.Sprintf("%s %s: exit %d, %q %q", k.Name(), strings.Join(args, " "), r.code, r.stdout, r.stderr))
			}
		}
	}
	for i := range answers[0] {
		t.Logf("%s", answers[0][i])
		if answers[1][i] != answers[0][i] {
			t.Errorf("porthole:\n%s\nthe API server:\n%s", answers[1][i], answers[0][i])
		}
	}
}

func token(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// startOf is what a continue token says but its resourceVersion (each
// server's own): its version, its start key, and whether its
// resourceVersion is -1 (an inconsistent continuation).
func startOf(tok string) string {
	if tok == "" {
		return "none"
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "not base64: " + tok
	}
	var c struct {
		V     string
		RV    int64
		Start string
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "not JSON: " + string(raw)
	}
	return fmt.Sprintf("%s %q rv-1=%v", c.V, c.Start, c.RV == -1)
}

// pages lists path page by page and sums each page up: its items, its
// remainingItemCount, its continue token's start key; and whether every
// page after the first has the first's resourceVersion.
func pages(t *testing.T, cfg *rest.Config, path string, header map[string]string) string {
	return pagesWriting(t, cfg, path, nil, header)
}

func pagesWriting(t *testing.T, cfg *rest.Config, path string, between func(), header ...map[string]string) string {
	t.Helper()
	var out []string
	first := ""
	cont := ""
	for n := 0; n < 20; n++ {
		p := path
		if cont != "" {
			p += "&continue=" + url.QueryEscape(cont)
		}
		code, raw := sendHeaders(t, cfg, p, header...)
		var page struct {
			Kind     string
			Metadata struct {
				ResourceVersion    string
				Continue           string
				RemainingItemCount *int64
			}
			Items []struct {
				Metadata struct{ Namespace, Name string }
				Data     map[string]string
			}
			Rows []struct {
				Cells []any
			}
			Message string
		}
		if err := json.Unmarshal(raw, &page); err != nil || code != 200 {
			return fmt.Sprintf("%s %d %s", strings.Join(out, " | "), code, page.Message)
		}
		var names []string
		for _, it := range page.Items {
			names = append(names, it.Metadata.Namespace+"/"+it.Metadata.Name+"="+it.Data["k"])
		}
		for _, r := range page.Rows {
			names = append(names, fmt.Sprint(r.Cells[0]))
		}
		remaining := "-"
		if page.Metadata.RemainingItemCount != nil {
			remaining = fmt.Sprint(*page.Metadata.RemainingItemCount)
		}
		same := ""
		if first == "" {
			first = page.Metadata.ResourceVersion
		} else if page.Metadata.ResourceVersion != first {
			same = " (another resourceVersion)"
		}
		out = append(out, fmt.Sprintf("%s %v remaining %s, continue %s%s", page.Kind, names, remaining, startOf(page.Metadata.Continue), same))
		cont = page.Metadata.Continue
		if cont == "" {
			break
		}
		if between != nil {
			between()
			between = nil
		}
	}
	return strings.Join(out, " | ")
}

// sendHeaders GETs path with extra request headers.
func sendHeaders(t *testing.T, cfg *rest.Config, path string, header ...map[string]string) (int, []byte) {
	t.Helper()
	var h map[string]string
	if len(header) > 0 {
		h = header[0]
	}
	code, raw, _ := roundTrip(t, cfg, "GET", path, "", "", h)
	return code, raw
}
