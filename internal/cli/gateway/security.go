package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/audit/webhook"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/gateway/oidc"
)

// Security are the authentication, authorization, TLS, origin, limit and
// audit flags shared by `porthole gateway` and `porthole serve`.
type Security struct {
	TokenAuthFile      string
	ClientCAFile       string
	TLSCertFile        string
	TLSKeyFile         string
	AllowAnonymous     bool
	RBACFiles          []string
	AllowedOrigins     []string
	AcceptHosts        []string
	InsecureHTTPAuth   bool
	AuditLogPath       string
	AuditWebhookURL    string
	RecordingDir       string
	MaxSessions        int
	MaxSessionsPerUser int
	MaxMessageBytes    int64
	MaxHeaderBytes     int
	IdleTimeout        time.Duration
	KeepAlive          time.Duration
	SessionResumeGrace time.Duration
	SessionJoin        bool
	ModeratedNS        []string
	ReplicaName        string
	Peers              map[string]string
	PeerTokenFile      string
	PeerCAFile         string
	FeatureGates       string
	Profiling          bool
	OIDC               OIDC
}

// OIDC are kube-apiserver's --oidc-* flags.
type OIDC struct {
	IssuerURL      string
	ClientID       string
	UsernameClaim  string
	UsernamePrefix string
	GroupsClaim    string
	GroupsPrefix   string
	CAFile         string
	RequiredClaims map[string]string
	SigningAlgs    []string
	// The web terminal's sign-in (not kube-apiserver's: it verifies only).
	ClientSecretFile string
	RedirectURL      string
	ExtraScopes      []string
	SessionKeyFile   string
}

func (o *OIDC) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.IssuerURL, "oidc-issuer-url", "", "accept ID tokens of this OpenID Connect issuer (https) as bearer tokens")
	fs.StringVar(&o.ClientID, "oidc-client-id", "", "the client ID ID tokens must be issued for (their audience); required with --oidc-issuer-url")
	fs.StringVar(&o.UsernameClaim, "oidc-username-claim", "sub", "the ID token claim naming the user")
	fs.StringVar(&o.UsernamePrefix, "oidc-username-prefix", "", `prefix for usernames; unset: the issuer URL and "#" for claims other than email; "-" for none`)
	fs.StringVar(&o.GroupsClaim, "oidc-groups-claim", "", "the ID token claim holding the user's groups (a string or a list of strings)")
	fs.StringVar(&o.GroupsPrefix, "oidc-groups-prefix", "", "prefix for group names")
	fs.StringVar(&o.CAFile, "oidc-ca-file", "", "PEM authorities of the issuer's serving certificate (default: the system's)")
	fs.StringToStringVar(&o.RequiredClaims, "oidc-required-claim", nil, "key=value claims an ID token must hold; repeatable")
	fs.StringSliceVar(&o.SigningAlgs, "oidc-signing-algs", []string{"RS256"}, "accepted ID token signature algorithms")
	fs.StringVar(&o.ClientSecretFile, "oidc-client-secret-file", "", "file holding the client secret for the web terminal's sign-in (none: a public client, PKCE only)")
	fs.StringVar(&o.RedirectURL, "oidc-redirect-url", "", "the sign-in callback registered at the provider (default: https://HOST/oidc/callback of the request)")
	fs.StringSliceVar(&o.ExtraScopes, "oidc-extra-scope", []string{"email"}, "scopes the sign-in asks for besides openid, so the ID token holds the configured claims (groups, ...)")
	fs.StringVar(&o.SessionKeyFile, "oidc-session-key-file", "", "at least 32 bytes sealing the sign-in's session cookies, shared by replicas (default: random, sessions end with the process)")
}

// signIn builds the web terminal's sign-in on a.
func (o *OIDC) signIn(a *oidc.Authenticator) (*oidc.SignIn, error) {
	opts := &oidc.SignInOptions{RedirectURL: o.RedirectURL, Scopes: o.ExtraScopes}
	if o.ClientSecretFile != "" {
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		if opts.ClientSecret = strings.TrimSpace(string(b)); opts.ClientSecret == "" {
			return nil, fmt.Errorf("--oidc-client-secret-file %s is empty", o.ClientSecretFile)
		}
	}
	if o.SessionKeyFile != "" {
		b, err := os.ReadFile(o.SessionKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-session-key-file: %w", err)
		}
		opts.SessionKey = b
	}
	return oidc.NewSignIn(a, opts)
}

// authenticator builds the ID token authenticator (nil without an issuer).
func (o *OIDC) authenticator(log *slog.Logger) (*oidc.Authenticator, error) {
	if o.IssuerURL == "" {
		if o.ClientID != "" {
			return nil, errors.New("--oidc-client-id needs --oidc-issuer-url")
		}
		return nil, nil
	}
	return oidc.New(&oidc.Options{IssuerURL: o.IssuerURL, ClientID: o.ClientID,
		UsernameClaim: o.UsernameClaim, UsernamePrefix: o.UsernamePrefix,
		GroupsClaim: o.GroupsClaim, GroupsPrefix: o.GroupsPrefix, RequiredClaims: o.RequiredClaims,
		SigningAlgs: o.SigningAlgs, CAFile: o.CAFile, Logger: log})
}

// AddFlags defines the flags on fs with kube-apiserver's names where one
// exists.
func (s *Security) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.TokenAuthFile, "token-auth-file", "", "static bearer tokens, CSV token,user,uid[,\"group1,group2\"] as kube-apiserver reads them")
	fs.StringVar(&s.ClientCAFile, "client-ca-file", "", "authenticate client certificates signed by this CA (user from CN, groups from O); needs --tls-cert-file")
	fs.StringVar(&s.TLSCertFile, "tls-cert-file", "", "serve HTTPS (HTTP/1.1 only) with this certificate")
	fs.StringVar(&s.TLSKeyFile, "tls-private-key-file", "", "private key of --tls-cert-file")
	fs.BoolVar(&s.AllowAnonymous, "anonymous-auth", false, "accept requests without credentials from any address as system:anonymous (authorized by RBAC)")
	fs.StringArrayVar(&s.RBACFiles, "rbac-file", nil, "Role, ClusterRole, RoleBinding and ClusterRoleBinding manifests to authorize with; repeatable (none: every authenticated caller may do everything; system:masters always may)")
	fs.StringSliceVar(&s.AcceptHosts, "accept-hosts", nil, "Host header values served (host patterns, port optional; repeatable or comma-separated) (default: localhost, 127.0.0.1 and ::1 without authentication, any host with it)")
	fs.BoolVar(&s.InsecureHTTPAuth, "insecure-http-auth", false, "accept bearer tokens over plain HTTP off loopback (behind a TLS-terminating proxy only)")
	fs.StringArrayVar(&s.AllowedOrigins, "allowed-origin", nil, "browser origins (host patterns) allowed to open sessions besides the server's own; repeatable")
	fs.StringVar(&s.AuditLogPath, "audit-log-path", "", "append one JSON record per session start and end to this file (- for stdout)")
	fs.StringVar(&s.AuditWebhookURL, "audit-webhook-url", "", "also POST the audit events in batches to this URL as audit.k8s.io/v1 EventLists, like kube-apiserver's audit webhook (https, or http on loopback); events are dropped and counted, never waited for, when it lags")
	fs.StringVar(&s.RecordingDir, "recording-dir", "", "record the output of terminal sessions as asciicast v2 files in this directory")
	fs.IntVar(&s.MaxSessions, "max-sessions", gateway.DefaultMaxSessions, "concurrent sessions in total")
	fs.IntVar(&s.MaxSessionsPerUser, "max-sessions-per-user", gateway.DefaultMaxUserSession, "concurrent sessions per user")
	fs.Int64Var(&s.MaxMessageBytes, "max-message-bytes", gateway.DefaultMaxMessage, "largest WebSocket message or SPDY frame a client may send")
	fs.IntVar(&s.MaxHeaderBytes, "max-header-bytes", gateway.DefaultMaxHeaderBytes, "largest request head")
	fs.DurationVar(&s.IdleTimeout, "streaming-idle-timeout", gateway.DefaultIdleTimeout, "end sessions with no data either way for this long")
	fs.DurationVar(&s.KeepAlive, "keepalive-interval", gateway.DefaultKeepAlive, "ping each client after this long without traffic (WebSocket ping, SPDY PING), below the idle cut of load balancers in between; 0 for none")
	fs.DurationVar(&s.SessionResumeGrace, "session-resume-grace", gateway.DefaultSessionResumeGrace, "keep an exec or attach session whose client's connection was cut this long, for porthole's client to resume it (0: sessions do not resume)")
	fs.BoolVar(&s.SessionJoin, "session-join", false, "bridge interactive exec and attach sessions so that users RBAC allows the verb join on sessions (API group porthole.dev) can type into them (without it, spliced sessions can only be watched)")
	fs.StringSliceVar(&s.ModeratedNS, "moderated-namespace", nil, "namespace (or *) whose exec and attach sessions hold their stdin until a moderator joins: a user allowed the verb moderate on sessions (porthole.dev) there; repeatable")
	fs.StringVar(&s.ReplicaName, "replica-name", "", "this replica's name, which starts its sessions' ids (a StatefulSet pod's name); needed with --peers")
	fs.StringToStringVar(&s.Peers, "peers", nil, "the other replicas, NAME=URL,... (a headless Service's pod addresses): any replica lists, watches and joins the sessions of all")
	fs.StringVar(&s.PeerTokenFile, "peer-token-file", "", "file holding the secret the replicas present to each other (the same in each); required with --peers")
	fs.StringVar(&s.PeerCAFile, "peer-ca-file", "", "certificate authority of the replicas' https addresses (default: the system's)")
	s.OIDC.addFlags(fs)
	fs.BoolVar(&s.Profiling, "profiling", false, "serve Go profiles (pprof) under /debug/pprof/ to authenticated callers, as kube-apiserver's flag")
	fs.StringVar(&s.FeatureGates, "feature-gates", "", "Kubernetes-style gates: TranslateStreamCloseWebsocketRequests=true|false,PortForwardWebsockets=true|false")
}

// Apply fills the security part of o and returns the server TLS config
// (nil: plain HTTP) and a function closing the files it opened.
func (s *Security) Apply(o *gateway.Options) (*tls.Config, func() error, error) {
	closeFn := func() error { return nil }
	var tokens gateway.TokenAuthenticators
	if s.TokenAuthFile != "" {
		tf, err := gateway.LoadTokenFile(s.TokenAuthFile)
		if err != nil {
			return nil, closeFn, err
		}
		tokens = append(tokens, tf)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	idTokens, err := s.OIDC.authenticator(log.With("component", "oidc"))
	if err != nil {
		return nil, closeFn, err
	}
	if idTokens != nil {
		tokens = append(tokens, idTokens)
		if o.SignIn, err = s.OIDC.signIn(idTokens); err != nil {
			return nil, closeFn, err
		}
	}
	switch len(tokens) {
	case 0:
	case 1:
		o.Tokens = tokens[0]
	default:
		o.Tokens = tokens
	}
	if len(s.RBACFiles) > 0 {
		rbac := gateway.NewRBAC()
		for _, f := range s.RBACFiles {
			if err := rbac.LoadFile(f); err != nil {
				return nil, closeFn, err
			}
		}
		o.Authorizer = rbac
	}
	if o.FeatureGates, err = gateway.ParseFeatureGates(s.FeatureGates); err != nil {
		return nil, closeFn, fmt.Errorf("--feature-gates: %w", err)
	}
	o.AllowAnonymous = s.AllowAnonymous
	o.OriginPatterns = s.AllowedOrigins
	o.AcceptHosts = s.AcceptHosts
	o.MaxSessions, o.MaxSessionsPerUser = s.MaxSessions, s.MaxSessionsPerUser
	o.MaxMessageBytes, o.MaxHeaderBytes, o.IdleTimeout = s.MaxMessageBytes, s.MaxHeaderBytes, s.IdleTimeout
	o.KeepAlive = s.KeepAlive
	o.Profiling = s.Profiling
	o.SessionResumeGrace = s.SessionResumeGrace
	o.JoinableSessions, o.ModeratedNamespaces = s.SessionJoin, s.ModeratedNS
	if err := s.applyPeers(o); err != nil {
		return nil, closeFn, err
	}
	if s.KeepAlive <= 0 {
		o.KeepAlive = -1 // none
	}
	if s.RecordingDir != "" {
		if err := os.MkdirAll(s.RecordingDir, 0o700); err != nil {
			return nil, closeFn, fmt.Errorf("recording directory: %w", err)
		}
		o.Recorder = &audit.Recorder{Dir: s.RecordingDir}
	}
	var sinks audit.Multi
	switch s.AuditLogPath {
	case "":
	case "-":
		sinks = append(sinks, audit.NewJSONLog(os.Stdout))
	default:
		f, err := os.OpenFile(s.AuditLogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, closeFn, fmt.Errorf("open audit log: %w", err)
		}
		sinks = append(sinks, audit.NewJSONLog(f))
		closeFn = f.Close
	}
	if s.AuditWebhookURL != "" {
		wh, err := s.auditWebhook(o)
		if err != nil {
			return nil, closeFn, errors.Join(err, closeFn())
		}
		sinks = append(sinks, wh)
		closeLog := closeFn
		closeFn = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), webhookFlushTimeout)
			defer cancel()
			return errors.Join(wh.Close(ctx), closeLog())
		}
	}
	switch len(sinks) {
	case 0:
	case 1:
		o.Audit = sinks[0]
	default:
		o.Audit = sinks
	}
	tlsCfg, err := s.serverTLS()
	if err != nil {
		return nil, closeFn, err
	}
	o.ClientCertificates = tlsCfg != nil && tlsCfg.ClientCAs != nil
	return tlsCfg, closeFn, nil
}

// webhookFlushTimeout bounds how long the end of the process waits for
// the audit webhook to take the last events.
const webhookFlushTimeout = 5 * time.Second

// auditWebhook starts the sender of --audit-webhook-url, its drops
// counted in porthole_audit_webhook_dropped_events_total.
func (s *Security) auditWebhook(o *gateway.Options) (*webhook.Webhook, error) {
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "porthole_audit_webhook_dropped_events_total",
		Help: "Audit events not delivered to --audit-webhook-url (queue full, endpoint failing, shutdown)."})
	if o.Registerer != nil {
		if err := o.Registerer.Register(dropped); err != nil {
			return nil, fmt.Errorf("register audit webhook metrics: %w", err)
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return webhook.New(&webhook.Options{URL: s.AuditWebhookURL, Logger: log.With("component", "audit-webhook"),
		Dropped: func(n int) { dropped.Add(float64(n)) }})
}

// serverTLS builds the listener's TLS: HTTP/1.1 only (upgrades cannot run
// over HTTP/2), client certificates verified against --client-ca-file when
// given (optional, so token users still connect).
func (s *Security) serverTLS() (*tls.Config, error) {
	if s.TLSCertFile == "" && s.TLSKeyFile == "" {
		if s.ClientCAFile != "" {
			return nil, errors.New("--client-ca-file needs --tls-cert-file and --tls-private-key-file")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	if s.ClientCAFile != "" {
		pem, err := os.ReadFile(s.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s: no PEM certificates", s.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// CheckListen refuses bearer tokens over plain HTTP on an address beyond
// loopback, where they would cross the network in the clear, unless
// --insecure-http-auth says a TLS-terminating proxy stands in front.
func (s *Security) CheckListen(listen string, tlsCfg *tls.Config) error {
	if !s.BearerTokens() || tlsCfg != nil || s.InsecureHTTPAuth || loopbackAddr(listen) {
		return nil
	}
	return fmt.Errorf("refusing bearer tokens over plain HTTP on %s: serve TLS (--tls-cert-file, --tls-private-key-file) "+
		"or, behind a TLS-terminating proxy, pass --insecure-http-auth", listen)
}

// BearerTokens reports whether the flags accept bearer tokens.
func (s *Security) BearerTokens() bool { return s.TokenAuthFile != "" || s.OIDC.IssuerURL != "" }

// loopbackAddr reports whether host:port names only loopback.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// applyPeers fills the replicas' options from --replica-name, --peers,
// --peer-token-file and --peer-ca-file.
func (s *Security) applyPeers(o *gateway.Options) error {
	o.ReplicaName = s.ReplicaName
	if len(s.Peers) == 0 {
		return nil
	}
	if s.PeerTokenFile == "" || s.ReplicaName == "" {
		return errors.New("--peers needs --replica-name and --peer-token-file")
	}
	b, err := os.ReadFile(s.PeerTokenFile)
	if err != nil {
		return fmt.Errorf("--peer-token-file: %w", err)
	}
	if o.PeerToken = strings.TrimSpace(string(b)); len(o.PeerToken) < 16 {
		return errors.New("--peer-token-file: the secret must have at least 16 characters")
	}
	o.Peers = map[string]*url.URL{}
	for name, raw := range s.Peers {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--peers %s=%s: want an http or https URL", name, raw)
		}
		o.Peers[name] = u
	}
	if s.PeerCAFile != "" {
		pem, err := os.ReadFile(s.PeerCAFile)
		if err != nil {
			return fmt.Errorf("--peer-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--peer-ca-file %s: no certificate", s.PeerCAFile)
		}
		o.PeerTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return nil
}
