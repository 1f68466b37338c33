package node

import (
	"net/http"
	"time"

	"github.com/porthole/porthole/protocol"
)

// kubeletRoutes serves the kubelet's streaming paths (PROTOCOL.md 2.2,
// protocol.KubeletPaths), so the API server's own proxy and translator can
// stand in front of the node. The request is rewritten into the API-server
// shape and served by the same code; a {uid} that does not match the pod's
// is 404.
func (n *Node) kubeletRoutes() {
	for _, p := range protocol.KubeletPaths {
		n.mux.HandleFunc(p.Pattern, n.kubeletHandler(p.Verb))
	}
	n.mux.HandleFunc("/containerLogs/{namespace}/{pod}/{container}", n.containerLogs)
}

// containerLogs serves the kubelet's log path, which the API server's
// pods/log relays (kubectl logs): the query is PodLogOptions' less the
// container, which the path names.
func (n *Node) containerLogs(w http.ResponseWriter, r *http.Request) {
	r2 := r.Clone(r.Context())
	q := r.URL.Query()
	q.Set("container", r.PathValue("container"))
	r2.URL.RawQuery = q.Encode()
	if err := ServeLog(w, r2, n.rt, r.PathValue("namespace"), r.PathValue("pod"), time.Now()); err != nil {
		n.log.Info("log request refused", "path", r.URL.Path, "code", err.Code(), "err", err)
		err.Write(w)
	}
}

func (n *Node) kubeletHandler(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if uid := r.PathValue("uid"); uid != "" {
			pod, err := n.rt.Pod(r.Context(), r.PathValue("namespace"), r.PathValue("pod"))
			if err != nil || string(pod.UID) != uid {
				http.Error(w, "pod not found", http.StatusNotFound)
				return
			}
		}
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = protocol.KubeletQuery(verb, r.URL.Query(), r.PathValue("container")).Encode()
		r2.SetPathValue("namespace", r.PathValue("namespace"))
		r2.SetPathValue("pod", r.PathValue("pod"))
		if err := n.serveStreaming(w, r2, verb); err != nil {
			n.log.Info("streaming request refused", "verb", verb, "path", r.URL.Path, "code", err.Code(), "err", err)
			err.Write(w)
		}
	}
}
