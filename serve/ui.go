package serve

import (
	"net/http"
	"strings"

	"github.com/porthole/porthole/web"
)

// uiPath is where the browser terminal is served.
const uiPath = "/ui/"

// withUI mounts the browser terminal at uiPath on mux (ServeMux redirects
// /ui to /ui/) and sends browsers asking for "/" there, so the address in
// the banner opens the terminal. API clients asking for "/" (no text/html
// in Accept) still get the API's answer.
func withUI(mux *http.ServeMux) http.Handler {
	mux.Handle(uiPath, http.StripPrefix(strings.TrimSuffix(uiPath, "/"), web.Handler()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, uiPath, http.StatusFound)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
