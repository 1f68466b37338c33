// Package serve is the `porthole serve` command: run pods from manifests
// (or the demo pod) behind a local API server that kubectl can use.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/cli"
	gatewaycmd "github.com/porthole/porthole/internal/cli/gateway"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/internal/selfcert"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/serve"
)

// Options are the parsed flags of `porthole serve`.
type Options struct {
	IO *iostreams.IOStreams
	// Listen is the address to listen on (loopback only).
	Listen string
	// Filenames are manifest files; "-" is stdin. None: the demo pod.
	Filenames []string
	// Kubeconfig is where to write the kubeconfig; "" writes none.
	Kubeconfig string
	// Verbosity is the -v level.
	Verbosity int
	Factory   *cli.Factory
	// PlainHTTP serves plain HTTP without the generated certificate and
	// token (the first round's behaviour; loopback only).
	PlainHTTP bool
	// CertDir keeps the generated authority, certificate and token
	// ("": $XDG_CONFIG_HOME/porthole/serve, or a temporary directory).
	CertDir string
	// Security are the gateway's options (porthole gateway's flags); the
	// gateway is always in front of the node and API.
	Security gatewaycmd.Security
}

const kubeconfigFlag = "write-kubeconfig"

// NewCmd returns the serve command. runF, when not nil, replaces the run
// step so tests can inspect the parsed Options.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "serve [-f FILE]...",
		Short: "Run pods locally behind an API server kubectl can exec, attach and port-forward into",
		Long: `Run pods as local processes and serve them to kubectl: an API (pods,
Services, Deployments, ReplicaSets, events, the node, namespaces,
discovery; reads, and the writes of kubectl's workload commands: create,
apply, patch, replace, scale and delete) plus exec, attach and
port-forward.

Without -f, serves the pod "demo" (container "shell" running sh, stdin open).
The kubeconfig is written to $XDG_CONFIG_HOME/porthole/kubeconfig unless
--write-kubeconfig says otherwise (an empty value writes none).

Serves HTTPS as a real cluster does: without --tls-cert-file, with a
certificate authority and serving certificate made on the first run and
kept in --cert-dir, and, without --token-auth-file, a bearer token made
once (the first line of tokens.csv there). The kubeconfig carries both, so
kubectl and the official clients work unchanged; the web terminal asks for
the token. --plain-http serves plain HTTP without them (loopback only).

Listens on loopback only: anyone who can connect can run commands as you.
The processes are NOT isolated from this machine.`,
		Example: `  porthole serve
  kubectl --kubeconfig ~/.config/porthole/kubeconfig exec demo -- date

  porthole serve -f pods.yaml --listen 127.0.0.1:0 --write-kubeconfig ./kubeconfig`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cli.FlagErrorf("unexpected argument %q: manifests are given with -f", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := cmd.Flags().GetInt(cli.VerbosityFlag)
			if err != nil {
				return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
			}
			opts.Verbosity = v
			if !cmd.Flags().Changed(kubeconfigFlag) {
				opts.Kubeconfig = defaultKubeconfig(f)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", serve.DefaultListen, "address to listen on (host:port, loopback only; port 0 picks one)")
	cmd.Flags().StringArrayVarP(&opts.Filenames, "filename", "f", nil, "manifest of pods, Services, Deployments, ReplicaSets, namespaces, ConfigMaps and Secrets to run (YAML or JSON, several documents; - for stdin); repeatable")
	cmd.Flags().StringVar(&opts.Kubeconfig, kubeconfigFlag, "", `write a kubeconfig for this server to this path ("" for none) (default "$XDG_CONFIG_HOME/porthole/kubeconfig")`)
	cmd.Flags().BoolVar(&opts.PlainHTTP, "plain-http", false, "serve plain HTTP, with no generated certificate or token (loopback only)")
	cmd.Flags().StringVar(&opts.CertDir, "cert-dir", "", `keep the generated certificate authority, serving certificate and token here (default "$XDG_CONFIG_HOME/porthole/serve")`)
	opts.Security.AddFlags(cmd.Flags())
	return cmd
}

// defaultKubeconfig is $XDG_CONFIG_HOME/porthole/kubeconfig, or "" (write
// none) when the user has no configuration directory.
func defaultKubeconfig(f *cli.Factory) string {
	if f.ConfigDir == nil {
		return ""
	}
	dir, err := f.ConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "porthole", "kubeconfig")
}

// Run serves until ctx is done. A shutdown by ctx is a success.
func Run(ctx context.Context, opts *Options) error {
	objs, err := ReadObjects(opts.IO.In, opts.Filenames)
	if err != nil {
		return err
	}
	pods := objs.Pods
	if opts.Kubeconfig != "" {
		if err := os.MkdirAll(filepath.Dir(opts.Kubeconfig), 0o700); err != nil {
			return fmt.Errorf("create kubeconfig directory: %w", err)
		}
	}
	sopts := &serve.Options{
		Listen:         opts.Listen,
		Pods:           pods,
		Services:       objs.Services,
		Deployments:    objs.Deployments,
		ReplicaSets:    objs.ReplicaSets,
		Namespaces:     objs.Namespaces,
		ConfigMaps:     objs.ConfigMaps,
		Secrets:        objs.Secrets,
		KubeconfigPath: opts.Kubeconfig,
		Logger:         opts.Factory.Logger(opts.Verbosity),
		Out:            opts.IO.Out,
	}
	// The demo's web container is this very binary (porthole demo-web).
	if f := opts.Factory; f.Executable != nil && objs.Len() == 0 {
		if exe, err := f.Executable(); err == nil {
			sopts.DemoWeb = []string{exe, "demo-web", "--listen", fmt.Sprintf("127.0.0.1:%d", serve.DemoWebPort)}
		}
	}
	// The gateway always stands in front: its Host and Origin checks,
	// limits and timeouts hold for the plain demo too.
	g := &gateway.Options{Logger: sopts.Logger.With("component", "gateway")}
	cleanup, err := selfSecure(opts, sopts)
	if err != nil {
		return err
	}
	defer cleanup()
	tlsCfg, closeAudit, err := opts.Security.Apply(g)
	if err != nil {
		return err
	}
	defer closeAudit()
	if err := opts.Security.CheckListen(opts.Listen, tlsCfg); err != nil {
		return err
	}
	sopts.Gateway, sopts.TLSConfig = g, tlsCfg
	s, err := serve.New(sopts)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// selfSecure gives serve what a real cluster has unless the flags say
// otherwise: a serving certificate from its own authority (unless
// --tls-cert-file or --plain-http) and a bearer token (unless the flags
// name another way to authenticate), both kept in --cert-dir and written
// into the kubeconfig. The returned function removes a temporary
// directory used when the user has no configuration directory.
func selfSecure(opts *Options, sopts *serve.Options) (cleanup func(), err error) {
	sec := &opts.Security
	cleanup = func() {}
	if opts.PlainHTTP {
		if sec.TLSCertFile != "" || sec.TLSKeyFile != "" {
			return cleanup, cli.FlagErrorf("--plain-http contradicts --tls-cert-file and --tls-private-key-file")
		}
		return cleanup, nil
	}
	if sec.TLSCertFile != "" || sec.TLSKeyFile != "" {
		return cleanup, nil // the user's certificate, and their authentication
	}
	userAuth := sec.BearerTokens() || sec.ClientCAFile != "" || sec.AllowAnonymous
	if !userAuth && serve.CheckLoopback(opts.Listen) != nil {
		// The generated token is the demo's key to everything: off
		// loopback the user brings their own authentication, and
		// serve.New refuses the address without it.
		return cleanup, nil
	}
	dir, cleanup, err := opts.Factory.CertDir(opts.CertDir, "serve")
	if err != nil {
		return cleanup, err
	}
	b, err := selfcert.Ensure(dir, selfcert.Hosts(opts.Listen), time.Now())
	if err != nil {
		return cleanup, err
	}
	sec.TLSCertFile, sec.TLSKeyFile = filepath.Join(dir, selfcert.CertFile), filepath.Join(dir, selfcert.KeyFile)
	sopts.KubeconfigCA = b.CAPEM
	if b.Made != "" {
		opts.Factory.Logger(opts.Verbosity).Info("made "+b.Made, "dir", dir)
	}
	if userAuth {
		return cleanup, nil
	}
	tok, err := selfcert.EnsureToken(dir, "porthole", []string{"system:masters"})
	if err != nil {
		return cleanup, err
	}
	sec.TokenAuthFile, sopts.KubeconfigToken = tok.File, tok.Value
	sopts.Notes = append(sopts.Notes, fmt.Sprintf("token: the first field of %s (the web terminal asks for it)", tok.File))
	return cleanup, nil
}

// ReadManifests is ReadObjects for a command that runs pods only.
func ReadManifests(stdin io.Reader, names []string) ([]*kube.Pod, error) {
	objs, err := ReadObjects(stdin, names)
	if err != nil {
		return nil, err
	}
	if objs.Len() != len(objs.Pods) {
		return nil, errors.New("only pods can run here: Services, Deployments and ReplicaSets need porthole serve")
	}
	return objs.Pods, nil
}

// ReadObjects decodes every file ("-" is stdin, once) and refuses an
// object defined twice across files. No files: no objects (the demo pod).
func ReadObjects(stdin io.Reader, names []string) (*kube.Objects, error) {
	all := &kube.Objects{}
	where := make(map[string]string) // kind/namespace/name -> file
	stdinUsed := false
	for _, name := range names {
		got, err := readManifest(stdin, name, &stdinUsed)
		if err != nil {
			return nil, err
		}
		if got.Len() == 0 {
			return nil, fmt.Errorf("%s: no objects", displayName(name))
		}
		var keys []string
		for _, p := range got.Pods {
			keys = append(keys, "pod "+p.Namespace+"/"+p.Name)
		}
		for _, o := range got.Services {
			keys = append(keys, "service "+o.Namespace+"/"+o.Name)
		}
		for _, o := range got.Deployments {
			keys = append(keys, "deployment "+o.Namespace+"/"+o.Name)
		}
		for _, o := range got.ReplicaSets {
			keys = append(keys, "replicaset "+o.Namespace+"/"+o.Name)
		}
		for _, o := range got.Namespaces {
			keys = append(keys, "namespace "+o.Name)
		}
		for _, o := range got.ConfigMaps {
			keys = append(keys, "configmap "+o.Namespace+"/"+o.Name)
		}
		for _, o := range got.Secrets {
			keys = append(keys, "secret "+o.Namespace+"/"+o.Name)
		}
		for _, key := range keys {
			if prev, dup := where[key]; dup {
				return nil, fmt.Errorf("%s: %s is already defined in %s", displayName(name), key, prev)
			}
			where[key] = displayName(name)
		}
		all.Append(got)
	}
	return all, nil
}

func readManifest(stdin io.Reader, name string, stdinUsed *bool) (*kube.Objects, error) {
	if name == "-" {
		if *stdinUsed {
			return nil, cli.FlagErrorf("-f - (stdin) given more than once")
		}
		*stdinUsed = true
		return kube.Decode(stdin, displayName(name))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err // *fs.PathError: "open NAME: reason"
	}
	defer f.Close()
	return kube.Decode(f, name)
}

func displayName(name string) string {
	if name == "-" {
		return "<stdin>"
	}
	return name
}
