// Package client proves porthole's client library and its `porthole exec`
// command against real peers: `porthole serve`, the kubelet's own streaming
// library (k8s.io/cri-streaming, through interop/criref: its one-time CRI URLs
// speak SPDY and the legacy WebSocket protocols and refuse v5), the kubelet's
// WebSocket front, and the API server's translator (WebSocket v5 to SPDY).
//
// Every session records the wire it ended on (the client's debug log), and
// each target states the wire it must end on, so a silent fallback, or one
// that should have happened and did not, fails the test.
package client
