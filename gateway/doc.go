// Package gateway is the API server's streaming role: an http.Handler in
// front of an upstream (a porthole node, anything serving the API server's
// pod paths, or a real API server) that authenticates, authorizes, limits,
// audits and routes exec, attach and port-forward requests, and proxies the
// few read requests kubectl needs (discovery, version, pods get and list).
//
// Routing follows the 1.37 API server (PROTOCOL.md 1.1, 7 and 8):
//
//	client            upstream speaks WebSocket      upstream is SPDY only
//	SPDY (POST)       raw proxy                       raw proxy
//	WS v5 exec/attach raw proxy                       translated: WS v5 in, SPDY out (gate TranslateStreamCloseWebsocketRequests)
//	WS SPDY tunnel    raw proxy                       unwrapped: the tunnel's bytes spliced to a SPDY upgrade (gate PortForwardWebsockets)
//	WS legacy names   raw proxy                       raw proxy
//
// porthole's UDP port-forward (udp.portforward.porthole.dev, offered with
// portforward.k8s.io) takes every route unchanged: offered names are passed
// on as they came, and the upstream's choice is the one the client gets.
//
// Beyond the API server, with UpstreamWire protocol.WebSocket a SPDY exec or attach
// (kubectl before 1.30) is translated the other way: SPDY in, WebSocket v5
// out. With SessionResumeGrace set, a WebSocket exec or attach offering
// porthole's resume extension (protocol.ResumeV5, resume.go) is terminated
// and bridged on either upstream wire, so that it outlives a cut client
// connection. The node's kubelet paths are not routed: callers use the API
// server's pod paths, the upstream receives the same paths.
//
// Sessions (live.go, sessionsapi.go, moderate.go, peers.go): every exec and
// attach is listed under protocol.SessionsPath for watchers, who watch its
// output or, where the gateway writes its stdin, join it. A session in a
// moderated namespace, or an interactive one with JoinableSessions, takes
// the bridged path: either client wire terminated and bridged to the
// upstream's (WebSocket first), so that its stdin can be held for a
// moderator or joined. With replicas, a session's id names its replica.
//
// Authentication (authn.go): client certificates verified by the TLS
// listener, bearer tokens in the header or in the WebSocket subprotocol
// base64url.bearer.authorization.k8s.io.<token> (stripped before anything
// else sees it), anonymous callers only on loopback with no authentication
// configured, or anywhere with AllowAnonymous. Impersonate-* headers
// (impersonate.go, kubectl --as) then switch the caller to the user they
// name when the caller may impersonate it. Authorization: system:masters
// may do everything; an Authorizer (RBAC objects) checks create on
// pods/exec, pods/attach, pods/portforward for every method and get as well
// for a GET (PROTOCOL.md 11.2), and get or list on pods for the proxied
// reads. The self reviews (review.go: kubectl auth whoami, can-i) are
// answered from the same, and from the upstream where it can review.
//
// Every session is audited at start and end (audit.Sink), counted in
// Prometheus metrics (porthole_gateway_*), logged, and, for terminals,
// recorded as asciicast v2 output. Shutdown refuses new sessions, lets
// running ones finish within its context, then ends translated sessions
// with an InternalError status and cuts spliced ones.
//
// Proxy safety (PROTOCOL.md 11.4, CVE-2018-1002105, CVE-2020-8559): the
// gateway dials a fresh upstream connection per upgrade, writes the request,
// reads and parses the upstream's answer, and only on a 101 that names the
// requested protocol hijacks the client and splices; any other answer is
// relayed with Connection: close (or replaced by a 500 for 1xx/2xx/3xx, so
// redirects are never followed) and both connections are closed, so nothing
// the client sends after a refused upgrade reaches the upstream. Only SPDY
// and WebSocket upgrades pass. Browser requests (those with an Origin header)
// must come from the gateway's own host or an allowed origin.
//
// Every refusal is a Kubernetes Status document with its HTTP code; the
// cause goes to the log and the audit record.
package gateway
