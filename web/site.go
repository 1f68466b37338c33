package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// SiteOptions configure Site.
type SiteOptions struct {
	// RecordingDir holds the gateway's recordings; empty serves none.
	RecordingDir string
	// Recordings, when set, is where the recordings are instead of
	// RecordingDir (a bucket every replica uploads to).
	Recordings RecordingSource
	// Auditor reports whether the request's user may see every user's
	// recordings (nil: nobody may).
	Auditor func(*http.Request) bool
	// Authenticate wraps the recordings route with the server's
	// authentication (the gateway's Authenticated). Required with
	// RecordingDir or Recordings: recordings are never served
	// unauthenticated.
	Authenticate func(http.Handler) http.Handler
	// User names the authenticated caller of a request; a user sees only
	// the recordings whose owner is that name.
	User func(*http.Request) (string, bool)
	// SignIn says the server verifies credentials (tokens, certificates):
	// the page offers to sign in. Without it the page says nothing about
	// tokens, which the server would ignore.
	SignIn bool
	Logger *slog.Logger
}

// whoami is the page's answer at /ui/whoami: who the server takes the
// caller for, and whether signing in means anything there.
type whoami struct {
	User   string `json:"user,omitempty"`
	SignIn bool   `json:"signIn"`
}

// Site serves the browser terminal in front of api, the server's own
// handler: the page at /ui/ (public: it holds no data and signs in through
// api), /ui/whoami (the caller's name and whether the server takes
// sign-ins, behind opts.Authenticate), the recordings at /ui/recordings/ behind opts.Authenticate with each
// user seeing only their own, browsers asking for / sent to /ui/, and api for
// everything else.
func Site(api http.Handler, opts *SiteOptions) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(uiPath, http.StripPrefix(strings.TrimSuffix(uiPath, "/"), handler()))
	if opts != nil && (opts.RecordingDir != "" || opts.Recordings != nil) && opts.Authenticate != nil && opts.User != nil {
		rec := newRecordings(&recordingsOptions{Dir: opts.RecordingDir, Source: opts.Recordings, Logger: opts.Logger,
			Visible: func(r *http.Request, rec recording) bool {
				name, ok := opts.User(r)
				if ok && opts.Auditor != nil && opts.Auditor(r) {
					return true
				}
				return ok && rec.Owner != "" && rec.Owner == name
			}})
		mux.Handle(uiPath+"recordings/", opts.Authenticate(http.StripPrefix(uiPath+"recordings", rec)))
	} else {
		// The page asks; the answer that there are none is not an error.
		mux.Handle(uiPath+"recordings/", secure(http.HandlerFunc(noRecordings)))
	}
	who := secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a whoami
		if opts != nil {
			a.SignIn = opts.SignIn
			if opts.User != nil {
				a.User, _ = opts.User(r)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(a)
	}))
	if opts != nil && opts.Authenticate != nil {
		who = opts.Authenticate(who) // a refused token is a 401 here too
	}
	mux.Handle(uiPath+"whoami", who)
	mux.Handle("/", api)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, uiPath, http.StatusFound)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// noRecordings answers the page's list of recordings on a server that
// keeps none (serve): nothing to list, and the section stays hidden.
func noRecordings(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path != uiPath+"recordings/" {
		http.NotFound(w, r)
		return
	}
	_, _ = io.WriteString(w, `{"enabled":false,"items":[]}`+"\n")
}

// uiPath is where Site serves the page.
const uiPath = "/ui/"
