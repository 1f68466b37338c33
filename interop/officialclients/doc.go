// Package officialclients drives the official Kubernetes clients against
// porthole serve as a user runs it (HTTPS from its own authority, its
// token, the kubeconfig it writes, unchanged): the Python client from
// Debian's python3-kubernetes and the JavaScript client from npm, both
// installed by .ci/run. They exec with single stdin writes of up to 32 MiB,
// attach, resize a tty and port-forward, each checked by bytes, checksums
// and exit codes; and exec through bridged sessions (serve --session-join),
// where the gateway terminates their wire itself (v4 for Python, v5 for
// JavaScript). They also make the API calls their users make around a
// session (api.py, js/api.js): discovery, a pod from the clients' models,
// a watch, a followed log, a deployment's scale and status.
package officialclients
