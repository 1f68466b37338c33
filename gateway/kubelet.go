package gateway

import "net/http"

// kubeletRoutes serves the kubelet's streaming paths (Options.KubeletNode),
// as the kubelet names them:
//
//	/exec/{ns}/{pod}[/{uid}]/{container}?command=...&input=1&output=1&error=1&tty=1
//	/attach/{ns}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1
//	/portForward/{ns}/{pod}[/{uid}]?port=...
//
// The kubelet authorizes them as the proxy subresource of its Node (create
// for POST, get for GET); here every one needs create, whatever the
// method, as the pods' streaming paths do. They are passed through raw.
func (g *Gateway) kubeletRoutes() {
	for _, verb := range []string{"exec", "attach"} {
		g.mux.HandleFunc("/"+verb+"/{namespace}/{pod}/{container}", g.kubeletStream(verb))
		g.mux.HandleFunc("/"+verb+"/{namespace}/{pod}/{uid}/{container}", g.kubeletStream(verb))
	}
	g.mux.HandleFunc("/portForward/{namespace}/{pod}", g.kubeletStream("portforward"))
	g.mux.HandleFunc("/portForward/{namespace}/{pod}/{uid}", g.kubeletStream("portforward"))
}

func (g *Gateway) kubeletStream(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := g.newSession(verb, userFrom(r.Context()), r.RemoteAddr)
		s.namespace, s.pod, s.container = r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
		q := r.URL.Query()
		s.command = q["command"]
		// The kubelet's flags are true only when exactly "1".
		s.stdin, s.stdout, s.stderr, s.tty = q.Get("input") == "1", q.Get("output") == "1", q.Get("error") == "1", q.Get("tty") == "1"
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
