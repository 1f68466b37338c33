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
