// Package gateway checks `porthole gateway` with the real Kubernetes peers:
// kubectl 1.27 ... 1.37 and client-go through the gateway to porthole's node
// (`porthole serve`, WebSocket passed through) and to the kubelet's own
// streaming stack (refserve: cri-streaming behind the API server's
// upgrade-aware proxy, reached as a SPDY-only upstream, so the gateway
// translates WebSocket v5 to SPDY and unwraps the port-forward tunnel), and
// the security cases against the running binary.
package gateway
