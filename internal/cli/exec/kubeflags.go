package exec

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/kube"
)

// RemoteCommandWebSocketsEnv turns WebSocket-first off when it equals
// "false" (any case), as in kubectl (PROTOCOL.md section 9).
const RemoteCommandWebSocketsEnv = "KUBECTL_REMOTE_COMMAND_WEBSOCKETS"

// KubeFlags are kubectl's connection flags, shared by the client commands
// (exec, attach, and whoever else wants them).
type KubeFlags struct {
	Kubeconfig string
	Context    string
	Namespace  string
	Server     string
	Protocol   string
}

// AddKubeFlags defines --kubeconfig, --context, -n/--namespace, --server and
// --protocol on fs.
func AddKubeFlags(fs *pflag.FlagSet) *KubeFlags {
	k := &KubeFlags{}
	fs.StringVar(&k.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else porthole serve's)")
	fs.StringVar(&k.Context, "context", "", "the kubeconfig context to use")
	fs.StringVarP(&k.Namespace, "namespace", "n", "", "the namespace (default: the context's)")
	fs.StringVarP(&k.Server, "server", "s", "", "the address and port of the Kubernetes API server")
	fs.StringVar(&k.Protocol, "protocol", "auto", "wire protocol: auto (WebSocket, SPDY on upgrade failure), websocket or spdy")
	return k
}

// Load reads the kubeconfig as kubectl does. When neither --kubeconfig nor
// KUBECONFIG is set and ~/.kube/config does not exist, the kubeconfig that
// `porthole serve` writes is used.
func (k *KubeFlags) Load(f *cli.Factory) (*kube.ClientConfig, error) {
	home, _ := os.UserHomeDir()
	return kube.LoadKubeconfig(&kube.LoadOptions{Path: k.Kubeconfig, Env: f.KubeconfigEnv(k.Kubeconfig, os.Getenv("KUBECONFIG"), home),
		Home: home, Context: k.Context, Namespace: k.Namespace, Server: k.Server})
}

// Client loads the kubeconfig and returns a client and the namespace.
func (k *KubeFlags) Client(f *cli.Factory, log *slog.Logger, pluginStderr io.Writer) (*client.Client, string, error) {
	wire, err := k.Wire()
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
	cfg.Wire, cfg.Logger = wire, log
	c, err := client.New(cfg)
	if err != nil {
		return nil, "", err
	}
	return c, cc.Namespace, nil
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

// PodName accepts NAME, pod/NAME, pods/NAME and po/NAME, as kubectl.
func PodName(arg string) (string, error) {
	typ, name, ok := strings.Cut(arg, "/")
	if !ok {
		return arg, nil
	}
	switch strings.ToLower(typ) {
	case "pod", "pods", "po":
		if name != "" {
			return name, nil
		}
	}
	return "", fmt.Errorf("only pods are supported, got %q", arg)
}
