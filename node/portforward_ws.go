package node

import (
	"context"
	"net/http"
)

// servePortForwardWebSocket serves the WebSocket port-forward wires.
func (n *Node) servePortForwardWebSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, req *request, pod PodRef) *httpError {
	return &httpError{st: badRequest("port-forward over WebSocket is not served yet").st}
}
