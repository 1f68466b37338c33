// Package serve is porthole's one-process cluster: a small Kubernetes API
// (version, discovery, namespaces, pods, Services, Deployments and
// ReplicaSets with list and watch, and the writes of kubectl's workload
// commands: create, apply, patch, replace, scale, delete, dry runs; the
// store and controllers are serve/cluster), a node
// serving exec, attach and port-forward on them, and the local runtime
// running them, behind one HTTP/1.1 listener. kubectl talks to it as to an
// API server, through the kubeconfig it writes.
//
// It owns the listener, the HTTP server, the node and the runtime; Run
// starts them and, when its context ends, stops them in that order and
// joins everything they started.
//
// porthole's gateway always stands in front of the node and API: it checks
// Host and Origin (DNS rebinding), applies the limits and, as configured,
// authenticates, authorizes and audits every request. Without
// authentication, Server listens on loopback addresses only: anyone who
// can reach it can run commands as the user running porthole.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/serve/cluster"
	"github.com/porthole/porthole/web"
)

// DefaultListen is the address Server listens on when Options.Listen is
// empty: loopback only, on a port unlikely to be taken.
const DefaultListen = "127.0.0.1:7443"

// defaultContext names the cluster, user and context of the kubeconfig
// Server writes.
const defaultContext = "porthole"

// Runtime is what Server needs from a runtime: node.Runtime to serve
// streams and the pods' live state, plus a lifecycle. *localrt.Runtime
// implements it.
type Runtime interface {
	node.Runtime
	// Start starts the pods' containers; ctx bounds only the start.
	Start(ctx context.Context) error
	// Close stops every container and joins every goroutine.
	Close() error
}

// Options configure a Server. The zero value serves the demo pod on
// DefaultListen and writes no kubeconfig.
type Options struct {
	// Listen is host:port; the host must be a loopback address or
	// "localhost". Port 0 picks a free port (see Server.Addr).
	Listen string
	// Pods are the pods to run and serve, as decoded from manifests; nil
	// or empty serves DemoPod, or demoPodWithWeb(DemoWeb) when DemoWeb is
	// set.
	Pods    []*kube.Pod
	DemoWeb []string
	// Services, Deployments and ReplicaSets are served with the pods;
	// the Deployments' and ReplicaSets' pods are created and run as a
	// controller would (the runtime must be able to add and remove pods).
	Services    []*kube.Service
	Deployments []*kube.Deployment
	ReplicaSets []*kube.ReplicaSet
	// Namespaces are made besides the builtin ones and those the objects
	// above are in.
	Namespaces []*kube.Namespace
	// ConfigMaps and Secrets are stored for the pods' environment to
	// read.
	ConfigMaps []*kube.ConfigMap
	Secrets    []*kube.Secret
	// KubeconfigPath, when set, is where Run writes a kubeconfig (mode
	// 0600) pointing at the server, with context defaultContext.
	KubeconfigPath string
	// Logger receives the server's logs (default: discarded).
	Logger *slog.Logger
	// Out receives the banner once the server is ready (default: none).
	Out io.Writer
	// Runtime runs the pods (nil: a local runtime, localrt, for Pods).
	// The Server owns it: Run starts and closes it; see New and Close.
	Runtime Runtime
	// ShutdownTimeout is how long running sessions may continue after Run's
	// context ends before they are cut (default 5s).
	ShutdownTimeout time.Duration
	// Gateway are the security options (authentication, RBAC, hosts,
	// origins, limits, audit) of the gateway in front of the node and API
	// (nil: the defaults, anonymous from loopback only); Upstream and
	// DialContext are filled in by Server. With authentication on, Listen
	// may be any address.
	Gateway *gateway.Options
	// TLSConfig, when set, serves HTTPS (HTTP/1.1 only).
	TLSConfig *tls.Config
	// KubeconfigCA is the PEM authority of TLSConfig's certificate, and
	// KubeconfigToken a bearer token the gateway accepts; Run writes both
	// into the kubeconfig, so that clients check the server and send the
	// token without further setup.
	KubeconfigCA    []byte
	KubeconfigToken string
	// Notes are printed after the banner, a line each.
	Notes []string
}

// Server is a running porthole server. Create it with New, then call Run
// once; call Close instead if Run is never called.
type Server struct {
	opts    Options
	log     *slog.Logger
	ln      net.Listener
	rt      Runtime
	cluster *cluster.Cluster
	node    *node.Node
	srv     *http.Server
	baseCtx context.Context
	cancel  context.CancelFunc

	example node.PodRef // the pod the banner names

	sec *secured

	mu  sync.Mutex
	ran bool
}

// New validates opts, creates the runtime and binds the listener, so
// address errors surface here and Addr is known before Run. It starts no
// goroutine and no process. New owns Options.Runtime on every path: a
// failing New closes it, as Run or Close do later.
func New(opts *Options) (_ *Server, err error) {
	s := &Server{}
	if opts != nil {
		s.opts = *opts
	}
	s.rt = s.opts.Runtime
	defer func() {
		if err != nil && s.rt != nil {
			s.rt.Close()
		}
	}()
	if s.opts.Listen == "" {
		s.opts.Listen = DefaultListen
	}
	if s.opts.ShutdownTimeout <= 0 {
		s.opts.ShutdownTimeout = 5 * time.Second
	}
	s.log = s.opts.Logger
	if s.opts.Logger == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if !authenticated(s.opts.Gateway) {
		if err := CheckLoopback(s.opts.Listen); err != nil {
			return nil, err
		}
	}
	pods := s.opts.Pods
	switch {
	case len(pods) > 0 || len(s.opts.Services)+len(s.opts.Deployments)+len(s.opts.ReplicaSets)+len(s.opts.Namespaces)+len(s.opts.ConfigMaps)+len(s.opts.Secrets) > 0:
	case len(s.opts.DemoWeb) > 0:
		pods = []*kube.Pod{demoPodWithWeb(s.opts.DemoWeb)}
	default:
		pods = []*kube.Pod{DemoPod()}
	}
	refs, err := podRefs(pods)
	if err != nil {
		return nil, err
	}
	if s.rt == nil {
		if s.rt, err = newLocalRuntime(pods, s.log, runtimeHooks{s.probeFailed, s.configMap, s.secret}); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !authenticated(s.opts.Gateway) && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return nil, fmt.Errorf("listen %s: bound %s, which is not a loopback address", s.opts.Listen, ln.Addr())
	}
	s.ln = wrapTLS(ln, s.opts.TLSConfig)
	switch {
	case len(refs) > 0:
		s.example = refs[0]
	case len(s.opts.Deployments) > 0:
		d := s.opts.Deployments[0]
		s.example = node.PodRef{Namespace: cmpOr(d.Namespace, kube.DefaultNamespace), Name: "deploy/" + d.Name}
	case len(s.opts.ReplicaSets) > 0:
		rs := s.opts.ReplicaSets[0]
		s.example = node.PodRef{Namespace: cmpOr(rs.Namespace, kube.DefaultNamespace), Name: "rs/" + rs.Name}
	default:
		s.example = node.PodRef{Namespace: kube.DefaultNamespace, Name: "POD"}
	}
	s.node = node.New(s.rt, &node.Options{Logger: s.log.With("component", "node")})
	now := time.Now()
	if s.cluster, err = cluster.New(s.rt, cluster.Objects{Pods: pods, Services: s.opts.Services,
		Deployments: s.opts.Deployments, ReplicaSets: s.opts.ReplicaSets, Namespaces: s.opts.Namespaces,
		ConfigMaps: s.opts.ConfigMaps, Secrets: s.opts.Secrets}, s.log.With("component", "cluster")); err != nil {
		ln.Close()
		return nil, err
	}
	a := newAPI(s.rt, s.cluster, versionInfo(), now, time.Now, s.log.With("component", "api"))
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	var handler http.Handler = s.handler(a)
	// The gateway always stands in front: its Host and Origin checks,
	// limits and timeouts hold for the plain demo too.
	gopts := s.opts.Gateway
	if gopts == nil {
		gopts = &gateway.Options{Logger: s.log.With("component", "gateway")}
	}
	if gopts.Registerer == nil && gopts.MetricsHandler == nil {
		gopts = withMetrics(gopts)
	}
	if s.sec, err = newSecured(gopts, handler, s.node); err != nil {
		ln.Close()
		return nil, err
	}
	handler = s.sec.site(s.log)
	s.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       90 * time.Second, // idle keep-alive connections, not sessions
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	// Upgrades (SPDY, WebSocket) need HTTP/1.1; never negotiate HTTP/2.
	s.srv.Protocols = new(http.Protocols)
	s.srv.Protocols.SetHTTP1(true)
	return s, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// podRefs names every pod once, defaulting the namespace as DecodePods does.
func podRefs(pods []*kube.Pod) ([]node.PodRef, error) {
	seen := make(map[node.PodRef]bool, len(pods))
	refs := make([]node.PodRef, 0, len(pods))
	for _, p := range pods {
		if p == nil {
			return nil, errors.New("nil pod")
		}
		ref := node.PodRef{Namespace: p.Namespace, Name: p.Name}
		if ref.Namespace == "" {
			ref.Namespace = kube.DefaultNamespace
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", ref.Namespace, ref.Name, err)
		}
		if seen[ref] {
			return nil, fmt.Errorf("duplicate pod %s/%s", ref.Namespace, ref.Name)
		}
		seen[ref] = true
		refs = append(refs, ref)
	}
	return refs, nil
}

// CheckLoopback refuses listen addresses that are not loopback: with no
// authentication, anyone reaching the port could run commands.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if host == "" {
		host = "all interfaces"
	}
	return fmt.Errorf("refusing to listen on %q (%s): without authentication porthole serves loopback addresses only (127.0.0.1, ::1 or localhost)", addr, host)
}

// Addr is the address the server listens on (the actual port when
// Options.Listen asked for port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the server's base URL, as written in the kubeconfig.
func (s *Server) URL() string {
	if s.opts.TLSConfig != nil {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// handler routes the node's streaming paths, the API and the browser
// terminal (see web.Site). The gateway in front answers the health checks
// itself.
func (s *Server) handler(a *api) http.Handler {
	mux := http.NewServeMux()
	for _, verb := range []string{"exec", "attach", "portforward"} {
		mux.Handle("/api/v1/namespaces/{namespace}/pods/{name}/"+verb, s.node)
	}
	// The kubelet's paths too, so an API server can stand in front.
	for _, p := range []string{"/exec/", "/attach/", "/portForward/"} {
		mux.Handle(p, s.node)
	}
	a.register(mux)
	return web.Site(mux, nil)
}

// withMetrics is o with a registry of its own behind GET /metrics: the
// gateway's session metrics, the Go runtime's and the process's (open
// descriptors, RSS), so a soak or a bench can watch serve as it watches a
// gateway. The caller's Options are not changed.
func withMetrics(o *gateway.Options) *gateway.Options {
	c := *o
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c.Registerer = reg
	c.MetricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return &c
}

// runtimeHooks are what the local runtime calls the server back for:
// the events of failed readiness probes, and the ConfigMaps and Secrets
// containers' environments read.
type runtimeHooks struct {
	probeFailed func(namespace, pod, container, message string)
	configMap   func(ctx context.Context, namespace, name string) (map[string]string, error)
	secret      func(ctx context.Context, namespace, name string) (map[string][]byte, error)
}

// secret is a Secret's data, as configMap a ConfigMap's.
func (s *Server) secret(_ context.Context, namespace, name string) (map[string][]byte, error) {
	if c := s.cluster; c != nil {
		if data, ok := c.SecretData(namespace, name); ok {
			return data, nil
		}
	}
	return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, node.ErrNotFound)
}

// configMap is a ConfigMap's data, for the runtime to read into a
// starting container's environment. The runtime starts containers only
// once Run has started it, after New set the cluster.
func (s *Server) configMap(_ context.Context, namespace, name string) (map[string]string, error) {
	if c := s.cluster; c != nil {
		if data, ok := c.ConfigMapData(namespace, name); ok {
			return data, nil
		}
	}
	return nil, fmt.Errorf("configmap %s/%s: %w", namespace, name, node.ErrNotFound)
}

// probeFailed records a failed readiness probe as an Unhealthy event of
// the pod, as the kubelet does. The runtime probes only once Run has
// started it, after New set the cluster.
func (s *Server) probeFailed(namespace, pod, container, message string) {
	if c := s.cluster; c != nil {
		c.ContainerEvent(namespace, pod, container, "Warning", "Unhealthy", "Readiness probe failed: "+message)
	}
}
