// Package node is `porthole node`: the kubelet's streaming endpoint on the
// local runtime, for an API server (or anything speaking the kubelet's
// paths) to route exec, attach and port-forward to.
package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	servecmd "github.com/porthole/porthole/internal/cli/serve"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/internal/selfcert"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/kubeconfig"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/nodeagent"
	"github.com/porthole/porthole/serve"
)

// Authorization modes (--authorization-mode), as the kubelet names them.
const (
	AuthzAlwaysAllow = "AlwaysAllow"
	AuthzWebhook     = "Webhook"
)

// DefaultListen is the kubelet's port, on loopback.
const DefaultListen = "127.0.0.1:10250"

// Options are the parsed flags of `porthole node`.
type Options struct {
	IO        *iostreams.IOStreams
	Factory   *cli.Factory
	Verbosity int

	Listen        string
	Filenames     []string
	TLSCertFile   string
	TLSKeyFile    string
	ClientCAFile  string
	CertDir       string
	AnonymousAuth bool
	ShutdownGrace time.Duration

	// Registration with an API server (nodeagent).
	Kubeconfig        string
	Register          bool
	AuthorizationMode string
	NodeName          string
	NodeIP            string
	DeclareWebSockets bool
}

// NewCmd returns the node command; runF replaces the run step in tests.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "node [-f PODS]",
		Short: "Serve the kubelet's exec, attach and port-forward paths for pods on this machine",
		Long: `Serve the kubelet's streaming paths (/exec, /attach, /portForward, as the
kubelet does) over HTTPS for the pods of -f (default: the demo pod "demo"),
run on the local runtime, so an API server can route a pod's exec, attach
and port-forward here (point its kubelet address at --listen).

Callers authenticate as the API server does to a kubelet: with a client
certificate signed by --client-ca-file (kube-apiserver's
--kubelet-client-certificate). Without it nothing is served, unless
--anonymous-auth on a loopback address. Without --tls-cert-file the node
serves a certificate from an authority it makes once in --cert-dir
(default $XDG_CONFIG_HOME/porthole/node; give the API server its ca.crt as
--kubelet-certificate-authority).

The processes are NOT isolated from this machine.`,
		Example: `  porthole node --client-ca-file apiserver-kubelet-client-ca.crt -f pods.yaml
  porthole node --anonymous-auth --listen 127.0.0.1:10250`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := cmd.Flags().GetInt(cli.VerbosityFlag)
			if err != nil {
				return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
			}
			opts.Verbosity = v
			if opts.ClientCAFile == "" && !opts.AnonymousAuth {
				return cli.FlagErrorf("--client-ca-file is required (the authority of the API server's kubelet client certificate), or --anonymous-auth on loopback")
			}
			if opts.AnonymousAuth && serve.CheckLoopback(opts.Listen) != nil {
				return cli.FlagErrorf("--anonymous-auth is for loopback addresses only, not %q: anyone reaching the port could run commands", opts.Listen)
			}
			if opts.Register && opts.Kubeconfig == "" {
				return cli.FlagErrorf("--register needs --kubeconfig (the node's credentials for the API server)")
			}
			if !cmd.Flags().Changed("authorization-mode") && opts.Kubeconfig != "" && !opts.AnonymousAuth {
				opts.AuthorizationMode = AuthzWebhook
			}
			switch opts.AuthorizationMode {
			case AuthzAlwaysAllow:
			case AuthzWebhook:
				if opts.Kubeconfig == "" {
					return cli.FlagErrorf("--authorization-mode=Webhook needs --kubeconfig (the API server to ask)")
				}
				if opts.AnonymousAuth {
					return cli.FlagErrorf("--authorization-mode=Webhook needs callers with client certificates, not --anonymous-auth")
				}
			default:
				return cli.FlagErrorf("--authorization-mode must be %s or %s, not %q", AuthzAlwaysAllow, AuthzWebhook, opts.AuthorizationMode)
			}
			if (opts.TLSCertFile == "") != (opts.TLSKeyFile == "") {
				return cli.FlagErrorf("--tls-cert-file and --tls-private-key-file go together")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Listen, "listen", DefaultListen, "address to listen on (host:port; port 0 picks one)")
	fs.StringArrayVarP(&opts.Filenames, "filename", "f", nil, "manifest of pods to run (YAML or JSON, several documents; - for stdin); repeatable")
	fs.StringVar(&opts.TLSCertFile, "tls-cert-file", "", "serving certificate (default: one made in --cert-dir)")
	fs.StringVar(&opts.TLSKeyFile, "tls-private-key-file", "", "key of --tls-cert-file")
	fs.StringVar(&opts.ClientCAFile, "client-ca-file", "", "authority of the client certificates allowed in (the API server's kubelet client certificate)")
	fs.StringVar(&opts.CertDir, "cert-dir", "", `keep the made authority and serving certificate here (default "$XDG_CONFIG_HOME/porthole/node")`)
	fs.BoolVar(&opts.AnonymousAuth, "anonymous-auth", false, "serve callers without a client certificate (loopback only)")
	fs.DurationVar(&opts.ShutdownGrace, "shutdown-grace", 10*time.Second, "on SIGTERM, how long running sessions may go on before they are ended")
	fs.StringVar(&opts.Kubeconfig, "kubeconfig", "", "the node's kubeconfig for the API server (with --register)")
	fs.StringVar(&opts.AuthorizationMode, "authorization-mode", AuthzAlwaysAllow, "AlwaysAllow, or Webhook: ask the API server of --kubeconfig (a SubjectAccessReview for nodes/proxy, as the kubelet does); Webhook by default with --kubeconfig")
	fs.BoolVar(&opts.Register, "register", false, "register as a Node in the API server of --kubeconfig and publish the pods there, bound to it")
	fs.StringVar(&opts.NodeName, "node-name", "", "the Node's name (default: this host's name)")
	fs.StringVar(&opts.NodeIP, "node-ip", "", "the address the API server reaches this node at (default: the host of --listen)")
	fs.BoolVar(&opts.DeclareWebSockets, "declare-websockets", true, "declare "+nodeagent.FeatureWebSockets+", so a 1.36+ API server passes WebSocket streams through instead of translating them to SPDY")
	return cmd
}

// Run serves until ctx is done, then ends the sessions and the pods.
func Run(ctx context.Context, opts *Options) error {
	log := opts.Factory.Logger(opts.Verbosity)
	pods, err := servecmd.ReadManifests(opts.IO.In, opts.Filenames)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		pods = []*kube.Pod{serve.DemoPod()}
	}
	tlsCfg, cleanup, err := serverTLS(opts)
	if err != nil {
		return err
	}
	defer cleanup()
	var api *client.Client
	if opts.Kubeconfig != "" {
		if api, err = apiClient(opts); err != nil {
			return err
		}
	}
	rt, err := newRuntime(pods, log,
		sourceReader(api, "configmaps", func(cm *kube.ConfigMap) map[string]string { return cm.Data }),
		sourceReader(api, "secrets", func(s *kube.Secret) map[string][]byte { return s.Data }))
	if err != nil {
		return err
	}
	defer rt.Close()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = rt.Start(sctx)
	cancel()
	if err != nil {
		return fmt.Errorf("start pods: %w", err)
	}
	n := node.New(rt, &node.Options{Logger: log.With("component", "node")})
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var handler http.Handler = n
	if opts.AuthorizationMode == AuthzWebhook {
		handler = nodeagent.NewWebhook(api, nodeName(opts), log.With("component", "authz")).Handler(n)
	}
	srv := &http.Server{Handler: authenticate(handler, opts.AnonymousAuth), ReadHeaderTimeout: 30 * time.Second, TLSConfig: tlsCfg}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(opts.IO.Out, "porthole node serving the kubelet's streaming paths on https://%s\n", ln.Addr())
	var agentDone chan struct{}
	actx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	if opts.Register {
		agent, err := newAgent(opts, api, rt, ln.Addr(), log)
		if err == nil {
			err = agent.Register(ctx)
		}
		if err != nil {
			srv.Close()
			return err
		}
		fmt.Fprintf(opts.IO.Out, "registered as node %q; its pods are published there\n", agent.NodeName())
		agentDone = make(chan struct{})
		go func() {
			defer close(agentDone)
			agent.Run(actx)
		}()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	stopAgent()
	if agentDone != nil {
		<-agentDone // the pods are withdrawn before they stop
	}
	gctx, gcancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
	defer gcancel()
	httpErr := srv.Shutdown(gctx)
	if errors.Is(httpErr, context.DeadlineExceeded) {
		httpErr = srv.Close()
	}
	nodeErr := n.Shutdown(gctx)
	if errors.Is(nodeErr, context.DeadlineExceeded) {
		nodeErr = nil // sessions past the grace were ended
	}
	if serveErr == nil {
		if serveErr = <-served; errors.Is(serveErr, http.ErrServerClosed) {
			serveErr = nil
		}
	}
	return errors.Join(serveErr, httpErr, nodeErr)
}

// authenticate lets in callers with a verified client certificate (the
// TLS layer checked it against --client-ca-file), or anyone with
// anonymous auth; /healthz is open, as the kubelet's.
func authenticate(next http.Handler, anonymous bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok"))
			return
		}
		if !anonymous && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serverTLS is the listener's TLS: the given certificate or one made in
// --cert-dir, HTTP/1.1 only (upgrades cannot run over HTTP/2), client
// certificates verified against --client-ca-file when offered.
func serverTLS(opts *Options) (*tls.Config, func(), error) {
	cleanup := func() {}
	certFile, keyFile := opts.TLSCertFile, opts.TLSKeyFile
	if certFile == "" {
		var dir string
		var err error
		if dir, cleanup, err = opts.Factory.CertDir(opts.CertDir, "node"); err != nil {
			return nil, cleanup, err
		}
		if _, err := selfcert.Ensure(dir, selfcert.Hosts(opts.Listen), time.Now()); err != nil {
			cleanup()
			return nil, func() {}, err
		}
		certFile, keyFile = filepath.Join(dir, selfcert.CertFile), filepath.Join(dir, selfcert.KeyFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		cleanup()
		return nil, func() {}, fmt.Errorf("load TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	if opts.ClientCAFile != "" {
		pem, err := os.ReadFile(opts.ClientCAFile)
		if err != nil {
			cleanup()
			return nil, func() {}, fmt.Errorf("read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			cleanup()
			return nil, func() {}, fmt.Errorf("client CA %s: no PEM certificates", opts.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, cleanup, nil
}

// podRuntime is the local runtime as the node serves and publishes it.
type podRuntime interface {
	serve.Runtime
	nodeagent.Pods
}

// newAgent is the registration of --register: the client of --kubeconfig,
// the node's name and the address the API server reaches addr at.
func newAgent(opts *Options, c *client.Client, rt nodeagent.Pods, addr net.Addr, log *slog.Logger) (*nodeagent.Agent, error) {
	name := nodeName(opts)
	tcp, _ := addr.(*net.TCPAddr)
	if tcp == nil {
		return nil, fmt.Errorf("listening on %s: not a TCP address", addr)
	}
	ip := opts.NodeIP
	if ip == "" {
		if tcp.IP.IsUnspecified() {
			return nil, cli.FlagErrorf("--node-ip is needed when --listen has no address (%s)", opts.Listen)
		}
		ip = tcp.IP.String()
	}
	return nodeagent.New(c, rt, nodeagent.Options{
		NodeName: name, Address: ip, Port: tcp.Port, DeclareWebSockets: opts.DeclareWebSockets,
		Logger: log.With("component", "nodeagent"),
	})
}

// apiClient is the client of --kubeconfig.
func apiClient(opts *Options) (*client.Client, error) {
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: opts.Kubeconfig})
	if err != nil {
		return nil, err
	}
	cfg, err := client.ConfigFromKubeconfig(cc, opts.IO.ErrOut)
	if err != nil {
		return nil, err
	}
	return client.New(cfg)
}

// sourceReadTimeout bounds one read of a ConfigMap or Secret from the
// API server.
const sourceReadTimeout = 30 * time.Second

// sourceReader reads the objects of resource (configmaps, secrets) a
// container's environment refers to from the API server, as the kubelet
// does (the Node authorizer lets a node read those of the pods bound to
// it), and returns their data; nil without an API server, when every one
// is missing.
func sourceReader[T, D any](api *client.Client, resource string, data func(*T) D) func(ctx context.Context, namespace, name string) (D, error) {
	if api == nil {
		return nil
	}
	return func(ctx context.Context, namespace, name string) (D, error) {
		// A frozen API server must not hold the container's start for
		// good: the read fails, the container waits saying why, and the
		// runtime tries again.
		ctx, cancel := context.WithTimeout(ctx, sourceReadTimeout)
		defer cancel()
		var o T
		var none D
		err := api.Do(ctx, http.MethodGet, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/"+resource+"/"+url.PathEscape(name), "", nil, &o)
		var ae *client.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound {
			return none, fmt.Errorf("%s: %w", ae.Message, node.ErrNotFound)
		}
		if err != nil {
			return none, err
		}
		return data(&o), nil
	}
}

// nodeName is --node-name, or this host's name in lower case, as the
// kubelet's default.
func nodeName(opts *Options) string {
	if opts.NodeName != "" {
		return opts.NodeName
	}
	name, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return strings.ToLower(name)
}
