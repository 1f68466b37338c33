// Package web is porthole's browser terminal: the built page (xterm.js
// speaking v5.channel.k8s.io to the exec and attach endpoints of the
// origin that served it) embedded in the binary, and the handler serving
// it. The page's sources, build and browser tests live beside this file
// (src/, build.mjs, test/); dist/ is their build output, committed so that
// building porthole needs no Node, and checked by `make web-check`.
//
// The handler serves files only. The API and the streaming endpoints the
// page calls are the embedding server's; so are authentication (the page
// sends its token as Authorization: Bearer and as the WebSocket subprotocol
// base64url.bearer.authorization.k8s.io.<token>, or relies on the session
// cookie of the gateway's OpenID Connect sign-in, offered when /oidc/session
// names a login route) and the WebSocket origin check that keeps other sites
// from opening sessions.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"regexp"
)

//go:embed dist
var dist embed.FS

// contentSecurityPolicy is sent with every file. Scripts, fetches and
// WebSockets go to the page's own origin only, and no other site may frame
// the page (clickjacking a terminal types commands). Styles allow
// 'unsafe-inline' because xterm.js's DOM renderer sizes and colours cells
// through <style> elements it creates; no script is inline. Scripts allow
// 'wasm-unsafe-eval' because asciinema-player, the recordings player,
// compiles its terminal emulator from WebAssembly (inlined in app.js);
// that permits WebAssembly compilation only, not JavaScript eval or
// new Function ('unsafe-eval' stays off).
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Handler serves the page at "/" and its assets beside it. Mount it under a
// prefix with http.StripPrefix (serve mounts it at /ui/). It answers GET and
// HEAD; every answer carries the framing and content security headers. It
// is safe for concurrent use.
func handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("web: embedded dist missing: " + err.Error()) // impossible: go:embed checked it at build time
	}
	files := http.FileServerFS(sub)
	all := loadAssets(sub)
	return secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hashed names (app-HASH.js, chunk-HASH.js, style-HASH.css) never
		// change: cached for good. The page itself is revalidated, which
		// its ETag makes a 304 without the body.
		if _, ok := all[r.URL.Path]; ok && hashedName.MatchString(r.URL.Path) {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		if !serveAsset(w, r, all) {
			files.ServeHTTP(w, r)
		}
	}))
}

// hashedName matches the names build.mjs gives the bundle's files: a
// content hash (esbuild's, 8 characters of base32) before the extension.
var hashedName = regexp.MustCompile(`-[A-Z2-7]{8}\.(js|css)$`)

// secure sets the security headers on every answer of next and lets only
// GET and HEAD through.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}
