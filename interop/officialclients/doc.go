// Package officialclients drives the official Kubernetes clients that
// send each stdin write as one WebSocket message: the Python client from
// Debian's python3-kubernetes (installed by .ci/run), against porthole
// serve.
package officialclients
