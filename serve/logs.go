package serve

import (
	"net/http"

	"github.com/porthole/porthole/node"
)

// serveLog answers GET pods/{name}/log from the runtime's kept output, as
// the API server relays the kubelet's (node.ServeLog).
func (a *api) serveLog(w http.ResponseWriter, r *http.Request) {
	if herr := node.ServeLog(w, r, a.pods, r.PathValue("namespace"), r.PathValue("name"), a.now()); herr != nil {
		writeError(w, r, a.log, herr)
	}
}
