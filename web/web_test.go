package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serveOne(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// pageAssets are the script and stylesheet index.html names (build.mjs
// gives them content-hashed names).
func pageAssets(t *testing.T) (app, style string) {
	t.Helper()
	_, page := serveOne(t, "GET", "/")
	a := regexp.MustCompile(`<script type="module" src="(app-[A-Z2-7]{8}\.js)"></script>`).FindStringSubmatch(page)
	c := regexp.MustCompile(`<link rel="stylesheet" href="(style-[A-Z2-7]{8}\.css)">`).FindStringSubmatch(page)
	if a == nil || c == nil {
		t.Fatalf("index.html names no hashed script or stylesheet:\n%s", page)
	}
	return "/" + a[1], "/" + c[1]
}

// staticImports are the chunks a module imports statically (minified
// esbuild output: from"./chunk-X.js" or import"./chunk-X.js"), not those
// it imports with import(), which load on demand.
func staticImports(js string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?:from|import)\s*"\./([^"]+\.js)"`).FindAllStringSubmatch(js, -1) {
		out = append(out, "/"+m[1])
	}
	return out
}

func TestHandler(t *testing.T) {
	app, style := pageAssets(t)
	for _, tc := range []struct {
		name, method, path string
		code               int
		contentType        string
		body               string // a substring of the body
	}{
		{"page", "GET", "/", 200, "text/html; charset=utf-8", `<script type="module" src="app-`},
		{"script", "GET", app, 200, "text/javascript; charset=utf-8", "v5.channel.k8s.io"},
		{"style", "GET", style, 200, "text/css; charset=utf-8", ".xterm"},
		{"recordings player style", "GET", style, 200, "text/css; charset=utf-8", ".ap-player"},
		{"unhashed names are gone", "GET", "/app.js", 404, "text/plain; charset=utf-8", "not found"},
		{"head", "HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"index redirects to the directory", "GET", "/index.html", http.StatusMovedPermanently, "", ""},
		{"missing", "GET", "/nope.js", 404, "text/plain; charset=utf-8", "not found"},
		{"post", "POST", "/", 405, "text/plain; charset=utf-8", "method not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := serveOne(t, tc.method, tc.path)
			if resp.StatusCode != tc.code {
				t.Fatalf("got %d, want %d", resp.StatusCode, tc.code)
			}
			if got := resp.Header.Get("Content-Type"); tc.contentType != "" && got != tc.contentType {
				t.Errorf("Content-Type: got %q, want %q", got, tc.contentType)
			}
			if !strings.Contains(body, tc.body) {
				t.Errorf("body does not contain %q", tc.body)
			}
			want := map[string]string{
				"Content-Security-Policy": contentSecurityPolicy,
				"X-Frame-Options":         "DENY",
				"X-Content-Type-Options":  "nosniff",
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: got %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestContentSecurityPolicy pins the directives that keep other sites out
// and scripts same-origin. script-src allows 'wasm-unsafe-eval' and nothing
// more: asciinema-player (the recordings player) compiles its terminal
// emulator from WebAssembly, which browsers gate behind that keyword. It
// allows WebAssembly compilation only; JavaScript eval and new Function
// would need 'unsafe-eval', which the policy must never carry.
func TestContentSecurityPolicy(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(contentSecurityPolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src":     "'self'",
		"script-src":      "'self' 'wasm-unsafe-eval'",
		"connect-src":     "'self'",
		"frame-ancestors": "'none'",
		"object-src":      "'none'",
		"base-uri":        "'none'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	if strings.Contains(contentSecurityPolicy, "'unsafe-eval'") {
		t.Error("the policy allows JavaScript eval ('unsafe-eval')")
	}
}

// TestPageHasNoInlineScript: the policy forbids inline scripts, so the page
// must have none (every script has a src) and no inline event handlers.
func TestPageHasNoInlineScript(t *testing.T) {
	page, err := dist.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(page), -1) {
		if !strings.Contains(m, " src=") {
			t.Errorf("inline script: %s", m)
		}
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+=`).FindString(string(page)); m != "" {
		t.Errorf("inline event handler: %s", m)
	}
}

// TestDistMatchesSources: every source file the build copies verbatim is
// the same in dist/ (the full rebuild check is `make web-check`, which
// needs Node).
func TestDistMatchesSources(t *testing.T) {
	src, err := os.ReadFile("src/index.html")
	if err != nil {
		t.Fatal(err)
	}
	built, err := dist.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	// build.mjs rewrites only the two asset references to hashed names.
	hashed := regexp.MustCompile(`(app|style)-[A-Z2-7]{8}\.(js|css)`)
	want := strings.Replace(string(src), `<script defer src="app.js"></script>`, `<script type="module" src="app.js"></script>`, 1)
	if got := hashed.ReplaceAllString(string(built), "$1.$2"); got != want {
		t.Error("dist/index.html differs from src/index.html: run `make web`")
	}
}

// TestCompressionAndRevalidation: each file goes gzip-encoded to a client
// that takes it (and decodes to the file), plain to one that does not, with
// an ETag per encoding; revalidating with If-None-Match costs a 304 and no
// body. Hashed files are cached as immutable, the page is revalidated. The
// first load of the page (the page, its stylesheet, its script and what
// that imports statically) fits the budget of 250 KB on the wire; the
// recording player is not part of it.
func TestCompressionAndRevalidation(t *testing.T) {
	h := handler()
	app, style := pageAssets(t)
	get := func(path string, hdr map[string]string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		h.ServeHTTP(rec, req)
		return rec
	}
	total := 0
	_, appJS := serveOne(t, "GET", app)
	firstLoad := append([]string{"/", style, app}, staticImports(appJS)...)
	for _, path := range firstLoad {
		plain := get(path, nil)
		zipped := get(path, map[string]string{"Accept-Encoding": "br;q=1.0, gzip;q=0.8, *;q=0.1"})
		refused := get(path, map[string]string{"Accept-Encoding": "gzip;q=0"})
		if plain.Code != 200 || zipped.Code != 200 || refused.Code != 200 {
			t.Fatalf("%s: codes %d %d %d", path, plain.Code, zipped.Code, refused.Code)
		}
		if zipped.Header().Get("Content-Encoding") != "gzip" || plain.Header().Get("Content-Encoding") != "" ||
			refused.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s: Content-Encoding plain %q, gzip %q, refused %q", path, plain.Header().Get("Content-Encoding"),
				zipped.Header().Get("Content-Encoding"), refused.Header().Get("Content-Encoding"))
		}
		if !strings.Contains(zipped.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: Vary %q", path, zipped.Header().Get("Vary"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(decoded, plain.Body.Bytes()) {
			t.Errorf("%s: the gzip body does not decode to the file (%v)", path, err)
		}
		total += zipped.Body.Len()
		for _, rec := range []*httptest.ResponseRecorder{plain, zipped} {
			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatalf("%s: no ETag", path)
			}
			again := get(path, map[string]string{"If-None-Match": etag, "Accept-Encoding": rec.Header().Get("Content-Encoding")})
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("%s: revalidation with %s: %d, %d bytes", path, etag, again.Code, again.Body.Len())
			}
		}
		if plain.Header().Get("ETag") == zipped.Header().Get("ETag") {
			t.Errorf("%s: one ETag for two encodings", path)
		}
		wantCache := "public, max-age=31536000, immutable"
		if path == "/" {
			wantCache = "no-cache"
		}
		if got := plain.Header().Get("Cache-Control"); got != wantCache {
			t.Errorf("%s: Cache-Control %q, want %q", path, got, wantCache)
		}
	}
	if len(firstLoad) < 4 {
		t.Errorf("first load %v: the script imports no shared chunk; was the build split?", firstLoad)
	}
	const budget = 250 << 10
	if total > budget {
		t.Errorf("first load: %d bytes gzip-encoded, budget %d", total, budget)
	}
	t.Logf("first load: %d bytes on the wire (%v)", total, firstLoad)
}
