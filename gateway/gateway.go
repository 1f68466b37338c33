package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/internal/registry"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
)

// Defaults for the limits in Options.
const (
	DefaultIdleTimeout      = 4 * time.Hour // as the kubelet
	DefaultReadStallTimeout = time.Minute
	// DefaultKeepAlive is below the idle cuts of common load balancers
	// (AWS's NLB 350 s and ALB 60 s, Azure's about 4 minutes).
	DefaultKeepAlive = 30 * time.Second
	// DefaultSessionResumeGrace is the CLI's --session-resume-grace.
	DefaultSessionResumeGrace = 3 * time.Minute
	// DefaultMaxHeaderBytes is the API server's and the kubelet's limit
	// on a request's head (net/http's default): exec's command travels in
	// the URL, and a script passed inline can be hundreds of kilobytes.
	DefaultMaxHeaderBytes = 1 << 20
	DefaultMaxMessage     = 32 << 20 // one WebSocket message from the client, as the API server's x/net
	DefaultMaxResizes     = 100      // resize messages per session per second
	DefaultMaxSessions    = 1000
	DefaultMaxUserSession = 100
	statusWriteTimeout    = 10 * time.Second
	refusalBodyLimit      = 64 << 10
)

// Options configure a Gateway. The zero value is not usable: Upstream is
// required. Every other zero value is the safe default.
type Options struct {
	// Upstream is the base URL of the upstream (http or https). Request
	// paths are appended to its path.
	Upstream *url.URL
	// UpstreamTLS is used for https upstreams; ALPN is forced to http/1.1.
	UpstreamTLS *tls.Config
	// UpstreamHeader is added to every upstream request (its credentials,
	// Authorization: Bearer ...). The client's own Authorization and
	// Impersonate-* headers are never forwarded.
	UpstreamHeader http.Header
	// UpstreamTokenFile, when set, holds the bearer token for the upstream
	// (a kubeconfig's tokenFile, such as a pod's projected service account
	// token); it is read again once a minute, as client-go does, so a
	// rotated token is picked up. It overrides an Authorization in
	// UpstreamHeader.
	UpstreamTokenFile string
	// Impersonate adds Impersonate-User and Impersonate-Group for the
	// authenticated caller to upstream requests.
	Impersonate bool
	// UpstreamWire, when set, is the only wire the upstream speaks for
	// exec, attach and port-forward. protocol.SPDY: it does not speak
	// WebSocket there (a kubelet streaming library, a node that does not
	// declare ExtendWebSocketsToKubelet), so WebSocket clients are
	// translated as the API server does. protocol.WebSocket: SPDY clients
	// (kubectl before 1.30) are translated the other way, exec and attach to
	// v5, port-forward wrapped in the SPDY/3.1+ tunnel. Empty: both, every
	// session passes through on its own wire.
	UpstreamWire protocol.Wire
	// KubeletNode, when set, also serves the kubelet's streaming paths
	// (/exec, /attach, /portForward; see kubelet.go) of the node of that
	// name, passed through to the upstream, which must serve them (a
	// porthole node): so an API server can stand in front, as in front of
	// a kubelet.
	KubeletNode string
	// Secrets forwards Secrets (reads, and writes as of ConfigMaps) under
	// RBAC. Off, none is forwarded whatever RBAC allows: in front of a
	// real cluster the gateway serves sessions and what kubectl reads
	// around them, and Secrets are the cluster's credentials. porthole
	// serve turns it on, for the Secrets its own pods read.
	Secrets bool
	// FeatureGates overrides the gates' defaults (both on), by Kubernetes
	// name: TranslateStreamCloseWebsocketRequests, PortForwardWebsockets.
	FeatureGates map[string]bool

	// Tokens authenticates bearer tokens (header or WebSocket subprotocol).
	Tokens TokenAuthenticator
	// ClientCertificates accepts client certificates verified by the TLS
	// listener (user from CN, groups from O). The listener must verify them
	// against the client CA; the gateway trusts r.TLS.VerifiedChains.
	ClientCertificates bool
	// SignIn, when set, signs browser users in (gateway/oidc) and
	// authenticates requests from this origin's pages by the session
	// cookie it sets; its routes are served under SignInPath.
	SignIn BrowserSignIn
	// AllowAnonymous lets requests without credentials through as
	// system:anonymous from any address. Without it, anonymous requests are
	// accepted only from loopback and only when no authentication is
	// configured (the local demo).
	AllowAnonymous bool
	// Authorizer decides every request of a caller outside PrivilegedGroup
	// (nil: any authenticated caller may do everything).
	Authorizer Authorizer

	// AcceptHosts are the Host header values served (path.Match patterns on
	// the host name, port ignored, as kubectl proxy's --accept-hosts).
	// Empty: loopback names (localhost, 127.0.0.1, ::1) when no
	// authentication is configured, any host otherwise. A web page can
	// point its own name at 127.0.0.1 (DNS rebinding) and then talk to the
	// gateway as a same-origin page; only the Host it must send gives it
	// away.
	AcceptHosts []string

	// OriginPatterns allows browser requests from these hosts (path.Match
	// patterns on the Origin's host); an origin whose host is an accepted
	// host (AcceptHosts) is allowed too.
	OriginPatterns []string
	// InsecureSkipOriginCheck accepts any Origin (cross-site WebSocket
	// hijacking becomes possible).
	InsecureSkipOriginCheck bool

	// Limits; zero means the default.
	MaxHeaderBytes     int           // total request header bytes (431 beyond)
	MaxMessageBytes    int64         // one inbound WebSocket frame (close 1009 beyond)
	MaxResizePerSecond int           // resize messages per session per second
	MaxSessions        int           // concurrent sessions in total (429 beyond)
	MaxSessionsPerUser int           // concurrent sessions per user (429 beyond)
	IdleTimeout        time.Duration // no data either way ends the session
	// KeepAlive is how long a session's connection may go without traffic
	// before its client gets a WebSocket or SPDY ping, so a load balancer
	// between them never sees the connection idle: spliced sessions, and those the gateway
	// terminates (bridged, translated, resumable, a watch or join)
	// (default DefaultKeepAlive; negative: none).
	KeepAlive time.Duration
	// ReadStallTimeout ends a proxied read (a log follow, a watch) whose
	// client takes no bytes of a write for this long (default
	// DefaultReadStallTimeout).
	ReadStallTimeout time.Duration
	// SessionResumeGrace is how long an exec or attach session whose
	// client offered porthole's resume extension (protocol.ResumeV5) is
	// kept after its client's connection failed, for the same user to
	// resume it (zero or negative: sessions do not resume, the extension
	// is never selected). The CLI's default is DefaultSessionResumeGrace.
	SessionResumeGrace time.Duration

	// JoinableSessions bridges every exec and attach session with stdin
	// (terminated on both sides, as a translated one), so that users RBAC
	// allows the verb join on sessions can type into it. Without it only
	// sessions the gateway bridges anyway (translated, resumable,
	// moderated) can be joined; every session can be listed and watched.
	JoinableSessions bool
	// ModeratedNamespaces are the namespaces (or "*") whose exec and
	// attach sessions wait for a moderator (moderate.go) before their
	// stdin reaches the process.
	ModeratedNamespaces []string
	// ReplicaName names this replica in its sessions' ids (peers.go); Peers
	// are the other replicas by name (base URLs), asked for their sessions
	// and handed the watches, joins and ends of theirs. Requests between
	// replicas carry PeerToken (required with Peers), over PeerTLS for
	// https peers.
	ReplicaName string
	Peers       map[string]*url.URL
	PeerToken   string
	PeerTLS     *tls.Config

	// Audit receives one record per session start and end, and denials.
	Audit audit.Sink
	// Recorder, when set, records tty sessions the gateway translates or
	// splices (output only).
	Recorder *audit.Recorder
	// Registerer receives the gateway's metrics (nil: none).
	Registerer prometheus.Registerer
	// MetricsHandler, when set, is served at GET /metrics to authenticated
	// callers (promhttp over the registry behind Registerer).
	MetricsHandler http.Handler
	// Profiling serves Go's profiles (net/http/pprof) under /debug/pprof/
	// to authenticated callers, as kube-apiserver's --profiling does. Off
	// by default: a CPU profile costs the server while it runs.
	Profiling bool
	Logger    *slog.Logger
	// DialContext opens upstream TCP connections (default net.Dialer).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// InProcess, when set, is the upstream's own handler, in this
	// process: the sessions the gateway would splice are served by calling
	// it, and the upstream's connection is the client's own, read and
	// written through the gateway's limits, recording, live watchers and
	// last word, with no connection pair and no copier between them
	// (inprocess.go). Every other path (API requests, translation, and
	// resumable and bridged sessions unless InProcessSessions is set) still
	// dials Upstream. porthole serve sets it to its node.
	InProcess http.Handler
	// InProcessSessions, when set, is the upstream node in this process:
	// the sessions the gateway bridges (resumable ones, and moderated or
	// joinable ones) run on it without a wire, through an in-process
	// session (node.Node.ServeSession), where they would dial Upstream and
	// have every byte framed onto a socket and read back. porthole serve
	// sets it to its node.
	InProcessSessions SessionServer
}

// SessionServer starts the exec or attach r asks for (the API server's
// path and query) and returns the client's side of its session; a refusal
// is an *status.HTTPError, relayed to the client as the upstream's answer.
type SessionServer interface {
	ServeSession(r *http.Request) (*stream.Session, error)
}

// Gateway is the streaming gateway. It is safe for concurrent use.
type Gateway struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	limits  *sessionLimits
	gates   Gates

	upstreamToken *fileToken // nil without UpstreamTokenFile

	readProxy *httputil.ReverseProxy
	transport *http.Transport

	draining atomic.Bool // Drain was called: /readyz fails, sessions still start

	sessions registry.Registry[*session] // for Shutdown
	resumes  resumeRegistry              // resumable sessions by id
	live     liveSessions                // exec and attach sessions, for list, watch and join
	ids      atomic.Uint64
}

// New validates opts and returns a Gateway. It starts no goroutine.
func New(opts *Options) (*Gateway, error) {
	g := &Gateway{}
	if opts != nil {
		g.opts = *opts
	}
	o := &g.opts
	if o.Upstream == nil || (o.Upstream.Scheme != "http" && o.Upstream.Scheme != "https") || o.Upstream.Host == "" {
		return nil, fmt.Errorf("gateway: upstream must be an http or https URL")
	}
	if w := o.UpstreamWire; w != "" && w != protocol.SPDY && w != protocol.WebSocket {
		return nil, fmt.Errorf("gateway: unknown upstream wire %q (want %q, %q or none)", w, protocol.SPDY, protocol.WebSocket)
	}
	if o.KubeletNode != "" && o.UpstreamWire != "" {
		return nil, errors.New("gateway: the kubelet paths are passed through: no translating upstream mode")
	}
	if o.AllowAnonymous && o.Authorizer == nil {
		return nil, errors.New("gateway: anonymous access from any address needs an authorizer (RBAC): anonymous callers would be allowed everything")
	}
	if len(o.Peers) > 0 && (o.PeerToken == "" || o.ReplicaName == "") {
		return nil, errors.New("gateway: peers need a replica name and a peer token")
	}
	if strings.ContainsAny(o.ReplicaName, "./ ") {
		return nil, fmt.Errorf("gateway: replica name %q: no dots, slashes or spaces", o.ReplicaName)
	}
	gates, err := resolveGates(o.FeatureGates)
	if err != nil {
		return nil, err
	}
	g.gates = gates
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessage
	}
	if o.MaxResizePerSecond <= 0 {
		o.MaxResizePerSecond = DefaultMaxResizes
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.MaxSessionsPerUser <= 0 {
		o.MaxSessionsPerUser = DefaultMaxUserSession
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.ReadStallTimeout <= 0 {
		o.ReadStallTimeout = DefaultReadStallTimeout
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.DialContext == nil {
		o.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	g.log = o.Logger
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.metrics, err = newMetrics(o.Registerer); err != nil {
		return nil, err
	}
	g.limits = newSessionLimits(o.MaxSessions, o.MaxSessionsPerUser)
	if o.UpstreamTokenFile != "" {
		g.upstreamToken = &fileToken{path: o.UpstreamTokenFile, now: time.Now}
		if _, err := g.upstreamToken.get(); err != nil {
			return nil, err
		}
	}
	g.readProxy = g.newReadProxy()
	g.mux = http.NewServeMux()
	g.routes()
	return g, nil
}

// ServeHTTP checks the request's size, authenticates it and routes it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.probe(w, r) {
		return
	}
	if n := headerBytes(r); n > g.opts.MaxHeaderBytes {
		g.refuse(w, r, nil, status.NewHTTPError(http.StatusRequestHeaderFieldsTooLarge, "RequestHeaderFieldsTooLarge", fmt.Sprintf("request headers of %d bytes exceed the limit of %d", n, g.opts.MaxHeaderBytes), nil))
		return
	}
	if herr := g.checkHost(r); herr != nil {
		g.refuse(w, r, nil, herr)
		return
	}
	if herr := checkPath(r.URL); herr != nil {
		g.refuse(w, r, nil, herr)
		return
	}
	if g.serveSignIn(w, r) {
		return
	}
	if user, ok, herr := g.peerUser(r); ok {
		if herr != nil {
			g.refuse(w, r, nil, herr)
			return
		}
		ctx := context.WithValue(withUser(r.Context(), user), peerKey{}, true)
		g.mux.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	caller, herr := g.authenticate(r)
	if herr != nil {
		g.refuse(w, r, g.deniedSession(r, &User{}), herr)
		return
	}
	user, herr := g.impersonate(r, caller)
	if herr != nil {
		// Audited in the caller's name: the refusal is the caller's.
		g.refuse(w, r, g.deniedSession(r, caller), herr)
		return
	}
	g.mux.ServeHTTP(w, r.WithContext(withUser(r.Context(), user)))
}

// deniedSession describes a streaming request refused before routing (its
// caller unauthenticated, u empty, or not allowed to impersonate) for its
// audit record (nil for other paths, which are not audited).
func (g *Gateway) deniedSession(r *http.Request, u *User) *session {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 7 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" || parts[4] != "pods" {
		return nil
	}
	switch parts[6] {
	case "exec", "attach", "portforward":
	default:
		return nil
	}
	s := g.newSession(parts[6], u, r.RemoteAddr)
	s.namespace, s.pod = parts[3], parts[5]
	parseStreamQuery(s, r.URL.Query())
	return s
}

// headerBytes approximates the request head's size the way the limit is
// meant: names, values and the target.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (g *Gateway) routes() {
	for _, p := range []string{"/api", "/api/{rest...}", "/apis", "/apis/{rest...}"} {
		g.mux.HandleFunc(p, g.apiHandler)
	}
	// The OpenAPI documents are discovery too (the API server's
	// system:discovery role grants them): kubectl apply reads them.
	for _, p := range []string{"/version", "/version/{$}", "/openapi/v2", "/openapi/v3", "/openapi/v3/{rest...}"} {
		g.mux.HandleFunc("GET "+p, g.discoveryHandler)
	}
	g.sessionsRoutes()
	if g.opts.MetricsHandler != nil {
		g.mux.Handle("GET /metrics", g.opts.MetricsHandler)
	}
	if g.opts.Profiling {
		g.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		g.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		g.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		g.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		g.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	if g.opts.KubeletNode != "" {
		g.kubeletRoutes()
	}
	g.mux.HandleFunc("/", g.notFound)
}

// upstreamURL is the upstream base joined with path and query.
func (g *Gateway) upstreamURL(path, rawQuery string) *url.URL {
	u := *g.opts.Upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = rawQuery
	return &u
}

// Drain makes /readyz fail from now on, so load balancers stop sending new
// sessions here, while sessions still start and run: call it when SIGTERM
// arrives, wait for the balancers to notice, then Shutdown.
func (g *Gateway) Drain() { g.draining.Store(true) }

// ready reports whether the gateway takes new sessions and is not draining.
func (g *Gateway) ready() bool {
	if g.draining.Load() {
		return false
	}
	return !g.sessions.Closing()
}

// probe answers GET or HEAD of /livez, /healthz and /readyz (and each of
// their checks, /readyz/shutdown) itself, before the Host check and
// authentication, and reports whether it did: a load balancer or a
// kubelet probes a replica by its address and without credentials (the
// API server lets anyone read these too), and they tell only whether this
// replica lives and takes new sessions. Readiness is the gateway's own,
// not the upstream's, so one replica can be drained. The answers are the
// API server's: "ok", or with ?verbose each check ("[+]ping ok"), ?exclude
// skipping some; a failed check says its name and withholds why, and
// fails the probe with 503, which balancers read as not ready.
func (g *Gateway) probe(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	endpoint, one, single := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	checks := g.healthChecks(endpoint)
	if checks == nil {
		return false
	}
	if single {
		i := slices.IndexFunc(checks, func(c healthCheck) bool { return c.name == one })
		if i < 0 {
			return false
		}
		if err := checks[i].check(); err != nil {
			writeProbe(w, http.StatusServiceUnavailable, fmt.Sprintf("internal server error: %v\n", err))
		} else {
			writeProbe(w, http.StatusOK, "ok")
		}
		return true
	}
	q := r.URL.Query()
	excluded := map[string]bool{}
	for _, name := range q["exclude"] {
		excluded[name] = true
	}
	var out strings.Builder
	failed := false
	for _, c := range checks {
		switch {
		case excluded[c.name]:
			delete(excluded, c.name)
			fmt.Fprintf(&out, "[+]%s excluded: ok\n", c.name)
		case c.check() != nil:
			failed = true
			fmt.Fprintf(&out, "[-]%s failed: reason withheld\n", c.name)
		default:
			fmt.Fprintf(&out, "[+]%s ok\n", c.name)
		}
	}
	if len(excluded) > 0 {
		var unknown []string
		for _, name := range slices.Sorted(maps.Keys(excluded)) {
			unknown = append(unknown, strconv.Quote(name))
		}
		fmt.Fprintf(&out, "warn: some health checks cannot be excluded: no matches for %s\n", strings.Join(unknown, ","))
	}
	switch _, verbose := q["verbose"]; {
	case failed:
		writeProbe(w, http.StatusServiceUnavailable, out.String()+endpoint+" check failed\n")
	case verbose:
		writeProbe(w, http.StatusOK, out.String()+endpoint+" check passed\n")
	default:
		writeProbe(w, http.StatusOK, "ok")
	}
	return true
}

// healthCheck is one named check of a health endpoint.
type healthCheck struct {
	name  string
	check func() error
}

// healthChecks are the checks of /livez, /healthz or /readyz (endpoint
// without its slash), as the API server names its own: ping, always ok;
// and for readiness, shutdown, failed once the gateway drains. Nil for
// any other endpoint.
func (g *Gateway) healthChecks(endpoint string) []healthCheck {
	ping := healthCheck{"ping", func() error { return nil }}
	switch endpoint {
	case "livez", "healthz":
		return []healthCheck{ping}
	case "readyz":
		return []healthCheck{ping, {"shutdown", func() error {
			if !g.ready() {
				return errors.New("the gateway is draining")
			}
			return nil
		}}}
	}
	return nil
}

func writeProbe(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// Shutdown refuses new sessions, lets running ones end until ctx is done,
// then cuts those left and waits for their handlers to return. Hijacked
// connections are invisible to http.Server.Shutdown, hence this.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.transport.CloseIdleConnections()
	if g.sessions.Drain(ctx) {
		return nil
	}
	// Each cut may wait (boundedly) for a stuck client write: End cuts the
	// sessions side by side.
	g.sessions.End(func(s *session) { s.cut(reasonShutdown) })
	g.sessions.Wait()
	return ctx.Err()
}
