// Package cp holds the interop tests of `porthole cp`: the porthole binary
// copies to and from the harness's server (porthole serve, or the reference
// server with INTEROP_TARGET=reference), from a pod whose tar dies mid-way
// (--retries), from pods whose tar emits hostile archives, and through the
// kubelet's own streaming stack (criref): its WebSocket front with the API
// server's v5-to-SPDY translator, and its SPDY path.
package cp
