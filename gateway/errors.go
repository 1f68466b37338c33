package gateway

import (
	"net/http"

	"github.com/porthole/porthole/protocol/status"
)

// httpError is an answer sent before any upgrade: the client-visible
// Status (code, reason, message) and, separately, the cause for the log
// and the audit record.
type httpError struct {
	code   int
	reason string
	msg    string
	err    error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *httpError) status() *status.Status {
	return status.NewHTTP(e.code, e.reason, e.msg, nil)
}

// writeStatus answers st as JSON with its code.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(st.Marshal())
}

// refuse answers herr, logs it and, for streaming requests, audits the
// denial and counts it.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, s *session, herr *httpError) {
	g.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
		"code", herr.code, "err", herr.Error())
	if herr.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="porthole"`)
	}
	if r.Header.Get("Upgrade") != "" {
		// Whatever the client sent after an upgrade request it could not
		// have must not be read as another request.
		w.Header().Set("Connection", "close")
	}
	if s != nil {
		g.metrics.refused(s.verb, herr.reason)
		s.deny(herr)
	}
	writeStatus(w, herr.status())
}
