// Package gateway is the `porthole gateway` command: the streaming gateway
// in front of a porthole node, a kubelet-style upstream or a real API server.
package gateway

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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/kube/kubeconfig"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/web"
)

// Options are the parsed flags of `porthole gateway`.
type Options struct {
	IO                 *iostreams.IOStreams
	Factory            *cli.Factory
	Verbosity          int
	Listen             string
	Upstream           string
	UpstreamKubeconfig string
	UpstreamContext    string
	Impersonate        bool
	SPDYOnlyUpstream   bool
	WSOnlyUpstream     bool
	ShutdownGrace      time.Duration
	ShutdownDelay      time.Duration
	// PlainHTTP serves plain HTTP even with authentication on and no
	// certificate named (no certificate is made).
	PlainHTTP bool
	// CertDir keeps the authority and certificate made when authentication
	// is on and no certificate is named ("": $XDG_CONFIG_HOME/porthole/gateway).
	CertDir string
	// WriteKubeconfig is where the kubeconfig for a made certificate goes
	// (nil: CertDir/kubeconfig; "": none).
	WriteKubeconfig *string
	Security        Security
	Recordings      Recordings
}

// DefaultListen is loopback: without authentication only loopback callers
// get in anyway.
const DefaultListen = "127.0.0.1:8001"

// NewCmd returns the gateway command; runF replaces the run step in tests.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "gateway --upstream URL | --upstream-kubeconfig FILE",
		Short: "Authenticate, authorize, audit and route exec, attach and port-forward in front of a node or cluster",
		Long: `Serve the API server's streaming role in front of an upstream: a porthole node,
anything serving the API server's pod paths, or a real API server reached with
the credentials of --upstream-kubeconfig (optionally impersonating the caller).

WebSocket passes straight through when the upstream speaks it; with
--upstream-spdy-only, WebSocket v5 exec and attach are translated to SPDY and
the port-forward tunnel is unwrapped, as the API server does for nodes that do
not declare ExtendWebSocketsToKubelet. Discovery, /version and the reads
kubectl makes around streaming (pods, namespaces, services, replication
controllers, deployments, replica sets, stateful sets, daemon sets, jobs,
events) are proxied, each authorized by --rbac-file for exactly what its path names;
nothing else is. kubectl auth whoami, can-i and can-i --list are answered
by the gateway: by its authentication and RBAC, then by the upstream asked
as the caller. kubectl --as and --as-group work as against the API server,
for callers whom --rbac-file (or, without it, the upstream) allows the verb
impersonate. /metrics serves Prometheus metrics.

--oidc-issuer-url and --oidc-client-id accept ID tokens of an OpenID Connect
provider as bearer tokens (kubectl's token, or an exec credential plugin such
as kubelogin), verified and mapped to users and groups with kube-apiserver's
--oidc-* rules: usernames from --oidc-username-claim (default sub) carry the
issuer URL and "#" unless the claim is email or --oidc-username-prefix says
otherwise ("-" for none). The web terminal then signs users in through the
provider ("Sign in with SSO": the authorization code flow with PKCE, the
gateway as the relying party at /oidc/callback, which the provider must
have registered; --oidc-client-secret-file for a confidential client) and
keeps them in an HttpOnly, SameSite cookie sealing the ID token
(--oidc-session-key-file, shared by replicas).

Without --token-auth-file, --client-ca-file or --oidc-issuer-url, only loopback callers are
accepted (anonymous, allowed everything), and only with a loopback Host
(see --accept-hosts). Bearer tokens over plain HTTP off loopback need
--insecure-http-auth; --anonymous-auth needs --rbac-file.

kubectl sends a bearer token only over HTTPS. With authentication on and
no --tls-cert-file, the gateway serves HTTPS with a certificate authority
and certificate it makes on the first run in --cert-dir (default
$XDG_CONFIG_HOME/porthole/gateway) and keeps, and writes a kubeconfig there
with its address and authority; each user adds their token:
  kubectl --kubeconfig KUBECONFIG config set-credentials porthole-gateway --token=TOKEN
--plain-http serves plain HTTP instead.`,
		Example: `  porthole gateway --upstream http://127.0.0.1:7443 --listen 127.0.0.1:8001
  porthole gateway --upstream-kubeconfig ~/.kube/config --impersonate \
    --listen :8443 --tls-cert-file gw.crt --tls-private-key-file gw.key \
    --token-auth-file tokens.csv --rbac-file rbac.yaml --audit-log-path audit.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := cmd.Flags().GetInt(cli.VerbosityFlag)
			if err != nil {
				return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
			}
			opts.Verbosity = v
			if (opts.Upstream == "") == (opts.UpstreamKubeconfig == "") {
				return cli.FlagErrorf("exactly one of --upstream and --upstream-kubeconfig is required")
			}
			if opts.SPDYOnlyUpstream && opts.WSOnlyUpstream {
				return cli.FlagErrorf("--upstream-spdy-only and --upstream-websocket-only exclude each other")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Listen, "listen", DefaultListen, "address to listen on (host:port; port 0 picks one)")
	fs.StringVar(&opts.Upstream, "upstream", "", "base URL of the upstream (http or https)")
	fs.StringVar(&opts.UpstreamKubeconfig, "upstream-kubeconfig", "", "kubeconfig of the upstream API server: its server, CA and credentials")
	fs.StringVar(&opts.UpstreamContext, "upstream-context", "", "context of --upstream-kubeconfig (default: current)")
	fs.BoolVar(&opts.Impersonate, "impersonate", false, "send Impersonate-User and Impersonate-Group for the authenticated caller")
	fs.BoolVar(&opts.SPDYOnlyUpstream, "upstream-spdy-only", false, "the upstream speaks only SPDY for exec, attach and port-forward: translate WebSocket clients")
	fs.BoolVar(&opts.WSOnlyUpstream, "upstream-websocket-only", false, "the upstream speaks only WebSocket v5 for exec and attach: translate SPDY clients (kubectl before 1.30)")
	fs.DurationVar(&opts.ShutdownGrace, "shutdown-grace", 10*time.Second, "on SIGTERM, how long running sessions may go on before they are ended")
	fs.BoolVar(&opts.PlainHTTP, "plain-http", false, "serve plain HTTP even with authentication on and no --tls-cert-file (no certificate is made)")
	fs.StringVar(&opts.CertDir, "cert-dir", "", `keep the certificate authority and certificate made for authenticated HTTPS here (default "$XDG_CONFIG_HOME/porthole/gateway")`)
	fs.Var(optionalString{&opts.WriteKubeconfig}, "write-kubeconfig", `write the kubeconfig for a made certificate here ("" for none) (default "CERT-DIR/kubeconfig")`)
	fs.DurationVar(&opts.ShutdownDelay, "shutdown-delay-duration", 0, "on SIGTERM, how long to keep taking new sessions with /readyz failing, so load balancers move away first (as kube-apiserver's flag)")
	opts.Security.AddFlags(fs)
	opts.Recordings.AddFlags(fs)
	return cmd
}

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, opts *Options) error {
	log := opts.Factory.Logger(opts.Verbosity)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var upstreamWire protocol.Wire
	switch {
	case opts.SPDYOnlyUpstream:
		upstreamWire = protocol.SPDY
	case opts.WSOnlyUpstream:
		upstreamWire = protocol.WebSocket
	}
	gopts := &gateway.Options{Impersonate: opts.Impersonate, UpstreamWire: upstreamWire,
		Registerer: reg, Logger: log.With("component", "gateway"),
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	if err := upstream(opts, gopts); err != nil {
		return err
	}
	made, err := selfTLS(opts)
	if err != nil {
		return err
	}
	if made != nil {
		defer made.cleanup()
	}
	tlsCfg, closeAudit, err := opts.Security.Apply(gopts)
	if err != nil {
		return err
	}
	defer closeAudit()
	if err := opts.Security.CheckListen(opts.Listen, tlsCfg); err != nil {
		return err
	}
	if err := opts.Recordings.Apply(ctx, &opts.Security, gopts, reg, log); err != nil {
		return err
	}
	recordingsClosed := false
	defer func() { // a start that fails after this still stops the uploader
		if !recordingsClosed {
			ctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
			defer cancel()
			opts.Recordings.Close(ctx)
		}
	}()
	g, err := gateway.New(gopts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	var kcLine string
	if made != nil { // written before serving: whoever sees the banner can use it
		if kcLine, err = made.writeKubeconfig(serverURL(opts.Listen, ln.Addr())); err != nil {
			ln.Close()
			return fmt.Errorf("write kubeconfig: %w", err)
		}
	}
	srv := &http.Server{Handler: site(g, gopts, &opts.Recordings, log), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 90 * time.Second,
		MaxHeaderBytes: opts.Security.MaxHeaderBytes}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	served := make(chan error, 1)
	go serveHTTP(srv, ln, served)
	fmt.Fprintf(opts.IO.Out, "gateway listening on %s://%s, upstream %s\n", scheme, ln.Addr(), gopts.Upstream.Redacted())
	if kcLine != "" {
		fmt.Fprintln(opts.IO.Out, kcLine)
	}
	var serveErr error
	select {
	case <-ctx.Done():
		if opts.ShutdownDelay > 0 {
			g.Drain()
			log.Info("draining: /readyz fails, new sessions still accepted", "for", opts.ShutdownDelay)
			select {
			case <-time.After(opts.ShutdownDelay):
			case serveErr = <-served:
			}
		}
	case serveErr = <-served:
	}
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
	defer cancel()
	gwDone := make(chan error, 1)
	go shutdownGateway(sctx, g, gwDone)
	httpErr := srv.Shutdown(sctx)
	if errors.Is(httpErr, context.DeadlineExceeded) {
		httpErr = srv.Close()
	}
	gwErr := <-gwDone
	if errors.Is(gwErr, context.DeadlineExceeded) {
		gwErr = nil // sessions past the grace were ended with a status and joined
	}
	// Every session has ended, so every recording is closed: upload what
	// the grace allows; the rest stays in the spool for the next start.
	recordingsClosed = true
	if err := opts.Recordings.Close(sctx); err != nil {
		log.Warn("recordings not uploaded before exit", "err", err)
	}
	if serveErr == nil {
		if serveErr = <-served; errors.Is(serveErr, http.ErrServerClosed) {
			serveErr = nil
		}
	}
	return errors.Join(serveErr, httpErr, gwErr)
}

func serveHTTP(srv *http.Server, ln net.Listener, done chan<- error) { done <- srv.Serve(ln) }

func shutdownGateway(ctx context.Context, g *gateway.Gateway, done chan<- error) {
	done <- g.Shutdown(ctx)
}

// upstream fills the upstream part of o from --upstream or the kubeconfig.
func upstream(opts *Options, o *gateway.Options) error {
	if opts.Upstream != "" {
		u, err := url.Parse(opts.Upstream)
		if err != nil {
			return cli.FlagErrorf("--upstream: %v", err)
		}
		o.Upstream = u
		return nil
	}
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: opts.UpstreamKubeconfig, Context: opts.UpstreamContext})
	if err != nil {
		return err
	}
	return fromKubeconfig(cc, o)
}

// fromKubeconfig takes the server, TLS and static credentials of cc. Exec
// plugins are not run by the gateway.
func fromKubeconfig(cc *kubeconfig.ClientConfig, o *gateway.Options) error {
	server := cc.Server
	if !strings.Contains(server, "://") {
		server = "https://" + server
	}
	u, err := url.Parse(server)
	if err != nil {
		return fmt.Errorf("upstream kubeconfig server: %w", err)
	}
	o.Upstream = u
	cfg := &tls.Config{ServerName: cc.TLSServerName, InsecureSkipVerify: cc.InsecureSkipTLSVerify}
	if len(cc.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cc.CAData) {
			return errors.New("upstream kubeconfig: certificate authority holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if len(cc.CertData) > 0 {
		cert, err := tls.X509KeyPair(cc.CertData, cc.KeyData)
		if err != nil {
			return fmt.Errorf("upstream kubeconfig client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	o.UpstreamTLS = cfg
	h := http.Header{}
	token := cc.Token
	if cc.TokenFile != "" {
		// Read again as it rotates (a pod's projected service account token).
		o.UpstreamTokenFile = cc.TokenFile
		token = ""
	}
	switch {
	case cc.TokenFile != "":
	case token != "":
		h.Set("Authorization", "Bearer "+token)
	case cc.Username != "":
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(cc.Username, cc.Password)
		h.Set("Authorization", r.Header.Get("Authorization"))
	case cc.Exec != nil:
		return errors.New("upstream kubeconfig: exec credential plugins are not supported by the gateway; use a token or client certificate")
	}
	o.UpstreamHeader = h
	return nil
}

// site puts the web terminal (/ui/, and its recordings player behind the
// gateway's authentication) beside the gateway.
func site(g *gateway.Gateway, gopts *gateway.Options, rec *Recordings, log *slog.Logger) http.Handler {
	// The page offers to sign in when the gateway checks credentials.
	signIn := gopts.Tokens != nil || gopts.ClientCertificates || gopts.SignIn != nil
	opts := &web.SiteOptions{Authenticate: g.Authenticated, User: gateway.UserName, SignIn: signIn, Logger: log}
	if gopts.Recorder != nil {
		opts.RecordingDir = gopts.Recorder.Dir
	}
	rec.site(opts)
	return g.Guard(web.Site(g, opts))
}

// optionalString is a string flag that tells unset from set to "".
type optionalString struct{ p **string }

func (o optionalString) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return **o.p
}

func (o optionalString) Set(v string) error {
	*o.p = &v
	return nil
}

func (o optionalString) Type() string { return "string" }
