// Package kubeflags holds the kubectl flags the client commands share (exec,
// attach, cp, port-forward): kubeconfig selection and overrides, the wire,
// the request timeout, and the pod and container resolution and completion
// that follow from them.
package kubeflags

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// RemoteCommandWebSocketsEnv turns WebSocket-first off when it equals
// "false" (any case), as in kubectl (PROTOCOL.md section 9).
const RemoteCommandWebSocketsEnv = "KUBECTL_REMOTE_COMMAND_WEBSOCKETS"

// KubeFlags are kubectl's connection flags, shared by the client commands
// (exec, attach, cp and port-forward).
type KubeFlags struct {
	Kubeconfig string
	Context    string
	Namespace  string
	Server     string
	Protocol   string
	// Overrides are the flags that replace parts of the kubeconfig
	// (--cluster, --user, --token, --as, ...).
	Overrides kubeconfig.Overrides
	// RequestTimeout is --request-timeout: seconds or a duration, bounding
	// the plain API requests ("0": none).
	RequestTimeout string
	// Getenv reads KUBECONFIG (os.Getenv unless a test sets it).
	Getenv func(string) string
}

// AddKubeFlags defines the connection flags (AddConnFlags) and --protocol
// on fs.
func AddKubeFlags(fs *pflag.FlagSet) *KubeFlags {
	k := AddConnFlags(fs)
	fs.StringVar(&k.Protocol, "protocol", "auto", "wire protocol: auto (WebSocket, SPDY on upgrade failure), websocket or spdy")
	return k
}

// AddConnFlags defines kubectl's connection flags on fs: --kubeconfig,
// --context, -n/--namespace, -s/--server and the overrides kubectl takes on
// every command.
func AddConnFlags(fs *pflag.FlagSet) *KubeFlags {
	k := &KubeFlags{}
	o := &k.Overrides
	fs.StringVar(&k.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else porthole serve's)")
	fs.StringVar(&k.Context, "context", "", "the kubeconfig context to use")
	fs.StringVarP(&k.Namespace, "namespace", "n", "", "the namespace (default: the context's)")
	fs.StringVarP(&k.Server, "server", "s", "", "the address and port of the Kubernetes API server")
	fs.StringVar(&o.Cluster, "cluster", "", "the kubeconfig cluster to use")
	fs.StringVar(&o.User, "user", "", "the kubeconfig user to use")
	fs.StringVar(&o.Token, "token", "", "bearer token for authentication to the API server")
	fs.StringVar(&o.Username, "username", "", "username for basic authentication to the API server")
	fs.StringVar(&o.Password, "password", "", "password for basic authentication to the API server")
	fs.StringVar(&o.Impersonate, "as", "", "username to impersonate for the operation")
	fs.StringVar(&o.ImpersonateUID, "as-uid", "", "UID to impersonate for the operation")
	fs.StringArrayVar(&o.ImpersonateGroups, "as-group", nil, "group to impersonate for the operation; repeatable")
	fs.StringVar(&o.CertificateAuthority, "certificate-authority", "", "path to a certificate file for the certificate authority")
	fs.StringVar(&o.ClientCertificate, "client-certificate", "", "path to a client certificate file for TLS")
	fs.StringVar(&o.ClientKey, "client-key", "", "path to a client key file for TLS")
	fs.BoolVar(&o.InsecureSkipTLSVerify, "insecure-skip-tls-verify", false, "do not check the server's certificate (HTTPS connections become insecure)")
	fs.StringVar(&o.TLSServerName, "tls-server-name", "", "server name to use for certificate validation (default: the server's host name)")
	fs.StringVar(&k.RequestTimeout, "request-timeout", "0", `how long to wait for a single API request before giving up ("0": no limit), in seconds or with a unit (1s, 2m, 3h); never a session`)
	return k
}

// Load reads the kubeconfig as kubectl does. When neither --kubeconfig nor
// KUBECONFIG is set and ~/.kube/config does not exist, the kubeconfig that
// `porthole serve` writes is used.
func (k *KubeFlags) Load(f *cli.Factory) (*kubeconfig.ClientConfig, error) {
	getenv := k.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	home, _ := os.UserHomeDir()
	return kubeconfig.Load(&kubeconfig.LoadOptions{Path: k.Kubeconfig, Env: f.KubeconfigEnv(k.Kubeconfig, getenv("KUBECONFIG"), home),
		Home: home, Context: k.Context, Namespace: k.Namespace, Server: k.Server, Overrides: k.Overrides})
}

// Timeout parses --request-timeout as kubectl does: whole seconds, or a
// duration with its unit.
func (k *KubeFlags) Timeout() (time.Duration, error) {
	if k.RequestTimeout == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(k.RequestTimeout, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	if d, err := time.ParseDuration(k.RequestTimeout); err == nil && d >= 0 {
		return d, nil
	}
	return 0, cli.FlagErrorf("invalid --request-timeout %q: a whole number of seconds, or a number with a unit (1s, 2m, 3h)", k.RequestTimeout)
}

// Config loads the kubeconfig and returns the client configuration (with
// --request-timeout) and the namespace.
func (k *KubeFlags) Config(f *cli.Factory, pluginStderr io.Writer) (*client.Config, string, error) {
	timeout, err := k.Timeout()
	if err != nil {
		return nil, "", err
	}
	cc, err := k.Load(f)
	if err != nil {
		return nil, "", err
	}
	cfg, err := client.ConfigFromKubeconfig(cc, pluginStderr)
	if err != nil {
		return nil, "", err
	}
	cfg.Timeout = timeout
	return cfg, cc.Namespace, nil
}

// Client loads the kubeconfig and returns a client and the namespace.
func (k *KubeFlags) Client(f *cli.Factory, log *slog.Logger, pluginStderr io.Writer) (*client.Client, string, error) {
	wire, err := k.Wire()
	if err != nil {
		return nil, "", err
	}
	cfg, ns, err := k.Config(f, pluginStderr)
	if err != nil {
		return nil, "", err
	}
	cfg.Wire, cfg.Logger = wire, log
	c, err := client.New(cfg)
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// Wire is --protocol, with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false turning
// auto into SPDY.
func (k *KubeFlags) Wire() (client.Wire, error) {
	w, err := client.ParseWire(k.Protocol)
	if err != nil {
		return "", cli.FlagErrorf("--protocol: %v", err)
	}
	if w == client.WireAuto && strings.EqualFold(os.Getenv(RemoteCommandWebSocketsEnv), "false") {
		return client.WireSPDY, nil
	}
	return w, nil
}

// PodName checks a target as kubectl takes it (NAME, pod/NAME,
// svc/NAME, deploy/NAME, rs/NAME, sts/NAME; see client.ParseTarget) and
// returns it, a pod as its bare name: ResolvePod picks the pod at run time.
func PodName(arg string) (string, error) {
	t, err := client.ParseTarget(arg)
	if err != nil {
		return "", err
	}
	if t.Resource == "pods" {
		return t.Name, nil
	}
	return arg, nil
}

// ResolvePod reads the pod target names: the pod itself, or the pod a
// Service or workload's selector picks (client.ResolveTarget).
func ResolvePod(ctx context.Context, c *client.Client, namespace, target string) (*kube.Pod, error) {
	t, err := client.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	r, err := c.ResolveTarget(ctx, namespace, t)
	if err != nil {
		return nil, err
	}
	return r.Pod, nil
}
