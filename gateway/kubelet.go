package gateway

import (
	"net/http"

	"github.com/porthole/porthole/protocol"
)

// kubeletRoutes serves the kubelet's streaming paths (Options.KubeletNode,
// protocol.KubeletPaths). The kubelet authorizes them as the proxy subresource of its Node (create
// for POST, get for GET); here every one needs create, whatever the
// method, as the pods' streaming paths do. They are passed through raw.
func (g *Gateway) kubeletRoutes() {
	for _, p := range protocol.KubeletPaths {
		g.mux.HandleFunc(p.Pattern, g.kubeletStream(p.Verb))
	}
}

func (g *Gateway) kubeletStream(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := g.newSession(verb, userFrom(r.Context()), r.RemoteAddr)
		s.namespace, s.pod = r.PathValue("namespace"), r.PathValue("pod")
		parseStreamQuery(s, protocol.KubeletQuery(verb, r.URL.Query(), r.PathValue("container")))
		a := Attributes{User: s.user, Verb: "create", Resource: "nodes", Subresource: "proxy", Name: g.opts.KubeletNode}
		if herr := g.admit(r, s, []Attributes{a}); herr != nil {
			g.refuse(w, r, s, herr)
			return
		}
		s.wireOut = s.wireIn
		if herr := s.begin(); herr != nil {
			g.refuse(w, r, s, herr)
			return
		}
		s.end(g.proxyUpgrade(w, r, s))
	}
}
