package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// stream serves exec, attach and portforward: origin, method,
// authorization (create always, get too for GET: PROTOCOL.md 11.2), upgrade
// kind, limits, then the route of the package doc.
func (g *Gateway) stream(w http.ResponseWriter, r *http.Request, verb, namespace, pod string) {
	s := g.newSession(verb, userFrom(r.Context()), r.RemoteAddr)
	s.namespace, s.pod = namespace, pod
	parseStreamQuery(s, r.URL.Query())
	if herr := g.admit(r, s, streamAttributes(r, s)); herr != nil {
		g.refuse(w, r, s, herr)
		return
	}
	if id := resumeID(r); id != "" && s.verb != "portforward" {
		if !g.toPeer(w, r, id) { // a session another replica holds resumes there
			g.resume(w, r, s, id)
		}
		return
	}
	s.moderated = s.verb != "portforward" && g.moderatedNamespace(s.namespace)
	if herr := moderationAdmits(r, s); herr != nil {
		g.refuse(w, r, s, herr)
		return
	}
	path := g.plan(r, s)
	if (path == pathSPDYToWS || path == pathWrap) && g.opts.Impersonate {
		if herr := g.checkUpstreamCreate(r.Context(), s); herr != nil {
			g.refuse(w, r, s, herr)
			return
		}
	}
	if herr := s.begin(); herr != nil {
		g.refuse(w, r, s, herr)
		return
	}
	outcome := g.route(w, r, s, path)
	s.end(outcome)
}

// parseStreamQuery reads the API server's parameters for the audit record
// and the translator (PROTOCOL.md 2.1).
func parseStreamQuery(s *session, q url.Values) {
	s.container = q.Get("container")
	s.command = q["command"]
	s.stdin, s.stdout, s.stderr, s.tty = protocol.QueryBool(q, "stdin"), protocol.QueryBool(q, "stdout"), protocol.QueryBool(q, "stderr"), protocol.QueryBool(q, "tty")
}

// streamAttributes are what a pods/exec, attach or portforward request
// must be allowed, in order: a GET is authorized as get by the API
// server's filter and then needs create as well
// (AuthorizePodWebsocketUpgradeCreatePermission); a POST needs create.
func streamAttributes(r *http.Request, s *session) []Attributes {
	a := Attributes{User: s.user, Verb: "create", Namespace: s.namespace, Resource: "pods", Subresource: s.verb, Name: s.pod}
	if r.Method != http.MethodGet {
		return []Attributes{a}
	}
	get := a
	get.Verb = "get"
	return []Attributes{get, a}
}

// admit runs every check that comes before a session exists: origin,
// method, each of attrs authorized, and the upgrade asked for.
func (g *Gateway) admit(r *http.Request, s *session, attrs []Attributes) *status.HTTPError {
	if herr := g.checkOrigin(r); herr != nil {
		return herr
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return status.NewHTTPError(http.StatusMethodNotAllowed, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil)
	}
	for _, a := range attrs {
		if herr := g.authorize(r.Context(), a); herr != nil {
			return herr
		}
	}
	switch {
	case protocol.IsWebSocketUpgrade(r):
		s.wireIn = protocol.WebSocket
	case protocol.IsSPDYUpgrade(r):
		s.wireIn = protocol.SPDY
	case r.Header.Get("Upgrade") != "":
		return status.NewHTTPError(http.StatusBadRequest, "BadRequest", "upgrade to "+strings.TrimSpace(r.Header.Get("Upgrade"))+" is not allowed: only SPDY/3.1 and websocket", nil)
	default:
		return status.NewHTTPError(http.StatusBadRequest, "BadRequest", "Upgrade request required", nil)
	}
	return nil
}

// Paths a session can take.
const (
	pathProxy     = iota // raw upgrade-aware proxy
	pathTranslate        // WebSocket v5 terminated, SPDY upstream
	pathUnwrap           // port-forward tunnel unwrapped to SPDY
	pathSPDYToWS         // SPDY terminated, WebSocket v5 upstream
	pathWrap             // SPDY port-forward wrapped in the tunnel upstream
	pathResume           // WebSocket resume extension terminated, bridged to either wire
	pathBridge           // either wire terminated, bridged to the upstream's: stdin held or joined
)

// planBridge is pathBridge, on the bridged upstream wire.
func (g *Gateway) planBridge(s *session) int {
	s.wireOut = g.bridgedWire()
	return pathBridge
}

// bridgedWire is the upstream wire of a session the gateway terminates
// (bridged or resumable): none with InProcessSessions; else WebSocket
// unless the upstream speaks only SPDY (dialUpstreamSession may still fall
// back to SPDY).
func (g *Gateway) bridgedWire() protocol.Wire {
	switch {
	case g.opts.InProcessSessions != nil:
		return protocol.InProcess
	case g.opts.UpstreamWire == protocol.SPDY:
		return protocol.SPDY
	}
	return protocol.WebSocket
}

// plan picks the session's path (package doc table) and its upstream wire.
func (g *Gateway) plan(r *http.Request, s *session) int {
	s.wireOut = s.wireIn
	bridged := g.bridgedPath(s) && canBridge(r, s)
	if bridged && s.moderated {
		return g.planBridge(s)
	}
	if s.wireIn == protocol.WebSocket && s.verb != "portforward" && g.opts.SessionResumeGrace > 0 && offersResume(r) {
		s.wireOut = g.bridgedWire()
		return pathResume
	}
	if bridged {
		return g.planBridge(s)
	}
	if s.wireIn == protocol.SPDY && g.opts.UpstreamWire == protocol.WebSocket {
		s.wireOut = protocol.WebSocket
		if s.verb == "portforward" {
			return pathWrap
		}
		return pathSPDYToWS
	}
	if s.wireIn != protocol.WebSocket || g.opts.UpstreamWire != protocol.SPDY {
		return pathProxy
	}
	switch {
	case s.verb != "portforward" && g.gates.TranslateStreamClose && offersV5(r):
		s.wireOut = protocol.SPDY
		return pathTranslate
	case s.verb == "portforward" && g.gates.PortForwardWebsockets && offersTunnel(r):
		s.wireOut = protocol.SPDY
		return pathUnwrap
	}
	return pathProxy
}

// route carries the session on its path and returns its outcome.
func (g *Gateway) route(w http.ResponseWriter, r *http.Request, s *session, path int) outcome {
	switch path {
	case pathBridge:
		g.metrics.translations.WithLabelValues("bridge").Inc()
		return g.serveBridged(w, r, s)
	case pathResume:
		return g.serveResumable(w, r, s)
	case pathTranslate:
		g.metrics.translations.WithLabelValues("websocket-to-spdy").Inc()
		return g.translate(w, r, s)
	case pathSPDYToWS:
		g.metrics.translations.WithLabelValues("spdy-to-websocket").Inc()
		return g.translateSPDY(w, r, s)
	case pathWrap:
		g.metrics.translations.WithLabelValues("spdy-to-tunnel").Inc()
		return g.tunnelSPDYToWS(w, r, s)
	case pathUnwrap:
		g.metrics.translations.WithLabelValues("tunnel-to-spdy").Inc()
		return g.unwrapTunnel(w, r, s)
	}
	return g.proxyUpgrade(w, r, s)
}

// offersV5 is the API server's test: the exact token v5.channel.k8s.io in
// the first Sec-WebSocket-Protocol line.
func offersV5(r *http.Request) bool {
	for _, p := range protocol.SplitHeader([]string{r.Header.Get(protocol.HeaderWebSocketProtocol)}) {
		if p == protocol.V5 {
			return true
		}
	}
	return false
}

// offersTunnel: some offered name is SPDY/3.1+<something>.k8s.io.
func offersTunnel(r *http.Request) bool {
	for _, p := range protocol.SplitHeader(r.Header.Values(protocol.HeaderWebSocketProtocol)) {
		if strings.HasPrefix(p, protocol.TunnelPrefix) && strings.HasSuffix(p, ".k8s.io") {
			return true
		}
	}
	return false
}
