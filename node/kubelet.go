package node

import (
	"net/http"
	"net/url"
	"strings"
)

// kubeletRoutes serves the kubelet's streaming paths (PROTOCOL.md 2.2), so
// the API server's own proxy and translator can stand in front of the node:
//
//	/exec/{ns}/{pod}[/{uid}]/{container}?command=...&input=1&output=1&error=1&tty=1
//	/attach/{ns}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1
//	/portForward/{ns}/{pod}[/{uid}]?port=80,443
//
// Flags are true only when exactly "1", as the kubelet reads them. The
// request is rewritten into the API-server shape and served by the same
// code; a {uid} that does not match the pod's is 404.
func (n *Node) kubeletRoutes() {
	for _, verb := range []string{"exec", "attach"} {
		n.mux.HandleFunc("/"+verb+"/{namespace}/{pod}/{container}", n.kubeletHandler(verb))
		n.mux.HandleFunc("/"+verb+"/{namespace}/{pod}/{uid}/{container}", n.kubeletHandler(verb))
	}
	n.mux.HandleFunc("/portForward/{namespace}/{pod}", n.kubeletHandler("portforward"))
	n.mux.HandleFunc("/portForward/{namespace}/{pod}/{uid}", n.kubeletHandler("portforward"))
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
		r2.URL.RawQuery = kubeletQuery(verb, r.URL.Query(), r.PathValue("container")).Encode()
		r2.SetPathValue("namespace", r.PathValue("namespace"))
		r2.SetPathValue("pod", r.PathValue("pod"))
		if err := n.serveStreaming(w, r2, verb); err != nil {
			n.log.Info("streaming request refused", "verb", verb, "path", r.URL.Path, "code", err.Code(), "err", err)
			err.Write(w)
		}
	}
}

// kubeletQuery maps the kubelet's parameters onto the API server's.
func kubeletQuery(verb string, q url.Values, container string) url.Values {
	out := url.Values{}
	if verb == "portforward" {
		if p := q["port"]; len(p) > 0 {
			out["ports"] = []string{strings.Join(p, ",")}
		}
		return out
	}
	out.Set("container", container)
	if c := q["command"]; len(c) > 0 {
		out["command"] = c
	}
	for kubelet, api := range map[string]string{"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"} {
		if q.Get(kubelet) == "1" {
			out.Set(api, "true")
		}
	}
	return out
}
