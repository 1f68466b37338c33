// Package clientgo holds the interop tests that use client-go v0.37 as a
// library against a running `porthole serve`: every remotecommand executor
// (WebSocket v5, SPDY v4/v3/v2/v1, fallback), a slow reader, and raw
// gorilla/websocket scripts for the legacy WebSocket subprotocols that no
// real Kubernetes client speaks, compared against the kubelet's own
// cri-streaming server (interop/criref). There is no non-test code here.
package clientgo
