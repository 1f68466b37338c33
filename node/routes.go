package node

import "net/http"

func (n *Node) routes() {
	for _, verb := range []string{"exec", "attach", "portforward"} {
		n.mux.HandleFunc("/api/v1/namespaces/{namespace}/pods/{pod}/"+verb, n.serveStreaming)
	}
}

func (n *Node) serveStreaming(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented yet", http.StatusNotImplemented) // replaced by the remote-command server
}
