package gateway

import (
	"net/http"

	"github.com/porthole/porthole/protocol/status"
)

// refuse answers herr, logs it and, for streaming requests, audits the
// denial and counts it.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, s *session, herr *status.HTTPError) {
	g.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
		"code", herr.Code(), "err", herr.Error())
	if herr.Code() == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="porthole"`)
	}
	if r.Header.Get("Upgrade") != "" {
		// Whatever the client sent after an upgrade request it could not
		// have must not be read as another request.
		w.Header().Set("Connection", "close")
	}
	if s != nil {
		g.metrics.refused(s.verb, herr.Status.Reason)
		s.deny(herr)
	}
	herr.Write(w)
}
