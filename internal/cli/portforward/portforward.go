// Package portforward is the `porthole port-forward` command: kubectl's
// port-forward with its output lines, plus a forward that reconnects when
// the server goes away and --exec to run a command against the forward.
package portforward

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"

	"github.com/porthole/porthole/internal/cli/kubeflags"
)

// WebSocketsEnv is kubectl's switch for the port-forward tunnel: any value
// but "false" (case-insensitive) keeps it on (PROTOCOL.md section 9).
const WebSocketsEnv = "KUBECTL_PORT_FORWARD_WEBSOCKETS"

// Options are the parsed flags and arguments of `porthole port-forward`.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cli.Factory

	Pod   string
	Ports []client.ForwardedPort
	// Target and PortSpecs are the arguments as given: a Service or a
	// workload is resolved to a pod, and named ports to numbers, in Run.
	Target    client.Target
	PortSpecs []string
	Addresses []string
	// Kube are the connection flags (--kubeconfig, -n, --token, ...).
	Kube *kubeflags.KubeFlags
	// Exec is a shell command run once the forward is ready; its exit code
	// becomes porthole's and the forward stops when it ends.
	Exec string
	// Follow keeps the forward on the target's next pod when its pod goes
	// away (--follow, default true).
	Follow bool
	// Protocol is --protocol: "" (auto, unless WebSocketsEnv is "false"),
	// auto, websocket or spdy.
	Protocol string
	// UDPIdleTimeout is --udp-idle-timeout: a UDP flow's idle lifetime.
	UDPIdleTimeout time.Duration
	Verbosity      int
	// Getenv reads the environment (KUBECONFIG, WebSocketsEnv); os.Getenv
	// unless a test sets it.
	Getenv func(string) string
}

// NewCmd returns the port-forward command. runF, when not nil, replaces the
// run step so tests can inspect the parsed Options.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f, Getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:     "port-forward POD|pod/NAME [LOCAL_PORT:]REMOTE_PORT...",
		Aliases: []string{"portforward"},
		Short:   "Forward local ports to a pod",
		Long: `Forward one or more local ports to a pod, as kubectl port-forward does.

LOCAL_PORT:REMOTE_PORT forwards LOCAL_PORT; REMOTE_PORT alone uses the same
number locally; :REMOTE_PORT picks a free local port and prints it.

The forward runs over the WebSocket tunnel (SPDY/3.1+portforward.k8s.io) and
falls back to SPDY when the server refuses it; KUBECTL_PORT_FORWARD_WEBSOCKETS=false
or --protocol=spdy selects SPDY. A port written PORT/udp (5353:53/udp) is
forwarded as UDP, porthole's extension that only porthole's node serves: one
flow per local peer address, ended after --udp-idle-timeout without a
datagram; other servers refuse it and porthole says so. Unlike kubectl, a connection that fails in the
pod (nothing listening on the remote port) closes only that connection, and a
lost connection to the server is re-established while the local ports stay open,
and the forward follows its target: when the pod goes away (deleted, replaced
by a rollout, not ready), new connections go to the Service's or workload's
next ready pod, or to the pod of the same name when it comes back, while
connections already open run on (--follow=false: stay on the first pod).

--exec runs a shell command once the ports are ready, with PORTHOLE_PORT (the
first local port) and PORTHOLE_PORTS (all of them, comma-separated) in its
environment; porthole exits with the command's exit code and the forward's
progress lines go to stderr so the command's stdout stays its own.`,
		Example: `  porthole port-forward web 8080:80
  porthole port-forward pod/web :80 --address 0.0.0.0
  porthole port-forward dns 5353:53/udp 5353:53
  porthole port-forward web :80 --exec 'curl -s http://localhost:$PORTHOLE_PORT/'`,
		Args: cobra.MinimumNArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(cmd, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Addresses, "address", []string{"localhost"}, "addresses to listen on (comma-separated); localhost means 127.0.0.1 and ::1")
	opts.Kube = kubeflags.AddConnFlags(fl)
	kf := func() *kubeflags.KubeFlags { return opts.Kube }
	cmd.ValidArgsFunction = kubeflags.CompletePods(f, kf, "")
	fl.BoolVar(&opts.Follow, "follow", true, "when the pod goes away, forward new connections to the target's next ready pod")
	fl.StringVar(&opts.Exec, "exec", "", "run this shell command once forwarding, then stop and exit with its code")
	fl.DurationVar(&opts.UDPIdleTimeout, "udp-idle-timeout", client.DefaultUDPIdleTimeout, "end a UDP flow (one local peer's datagrams) after this long without a datagram either way; each port serves 256 flows at once, so lower it for many short-lived peers such as DNS clients")
	fl.StringVar(&opts.Protocol, "protocol", "", "wire: auto (tunnel, then SPDY), websocket or spdy (default auto, or spdy when "+WebSocketsEnv+"=false)")
	return cmd
}

// complete parses the arguments and checks --protocol.
func (o *Options) complete(cmd *cobra.Command, args []string) error {
	if len(args) < 2 {
		return cli.FlagErrorf("TYPE/NAME and list of ports are required for port-forward")
	}
	t, err := client.ParseTarget(args[0])
	if err != nil {
		return cli.FlagErrorf("%v", err)
	}
	o.Target, o.Pod = t, t.Name
	o.Ports, o.PortSpecs = nil, args[1:]
	for _, arg := range args[1:] {
		p, err := ParsePort(arg)
		a, _, perr := cutProtocol(arg)
		switch {
		case err == nil:
		case perr != nil:
			return cli.FlagErrorf("%v", perr)
		case strings.Count(a, ":") > 1 || !isPortName(remotePart(a)):
			return cli.FlagErrorf("%v", err)
		case !localOK(a):
			local, _, _ := strings.Cut(a, ":")
			return cli.FlagErrorf("error parsing local port '%s': invalid syntax", local)
		}
		o.Ports = append(o.Ports, p) // named ones are mapped in Run
	}
	if _, err := client.ParseWire(o.Protocol); err != nil {
		return cli.FlagErrorf("--protocol: %v", err)
	}
	if o.UDPIdleTimeout <= 0 {
		return cli.FlagErrorf("--udp-idle-timeout must be positive")
	}
	if o.Verbosity, err = cmd.Flags().GetInt(cli.VerbosityFlag); err != nil {
		return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
	}
	return nil
}

// Wire is the wire to use: --protocol when given, else SPDY when
// WebSocketsEnv is "false" (any case), else auto, as kubectl reads it.
func (o *Options) Wire() client.Wire {
	if w, err := client.ParseWire(o.Protocol); err == nil && o.Protocol != "" {
		return w
	}
	if strings.EqualFold(o.Getenv(WebSocketsEnv), "false") {
		return client.WireSPDY
	}
	return client.WireAuto
}

// portName is a port's name (IANA_SVC_NAME, as Kubernetes validates it):
// lower-case letters, digits and dashes, at least one letter.
var portName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$`)

// ParsePort parses kubectl's port argument: REMOTE, LOCAL:REMOTE or
// :REMOTE (a free local port), and porthole's optional protocol suffix
// /udp or /tcp (the default). Named ports are not supported.
func ParsePort(arg string) (client.ForwardedPort, error) {
	s, proto, err := cutProtocol(arg)
	if err != nil {
		return client.ForwardedPort{}, err
	}
	p, err := parseNumbers(s)
	p.Protocol = proto
	return p, err
}

// cutProtocol splits a port argument's /udp or /tcp suffix (any case)
// off; TCP is the zero Protocol.
func cutProtocol(arg string) (string, client.Protocol, error) {
	i := strings.LastIndexByte(arg, '/')
	if i < 0 {
		return arg, "", nil
	}
	switch strings.ToLower(arg[i+1:]) {
	case "udp":
		return arg[:i], client.ProtocolUDP, nil
	case "tcp":
		return arg[:i], "", nil
	}
	return "", "", fmt.Errorf("error parsing port '%s': unsupported protocol '%s' (tcp or udp)", arg, arg[i+1:])
}

// parseNumbers parses REMOTE, LOCAL:REMOTE or :REMOTE.
func parseNumbers(s string) (client.ForwardedPort, error) {
	local, remote, hasLocal := strings.Cut(s, ":")
	if !hasLocal {
		local, remote = s, s
	}
	if strings.Contains(remote, ":") {
		return client.ForwardedPort{}, fmt.Errorf("invalid port format '%s'", s)
	}
	r, err := strconv.ParseUint(remote, 10, 16)
	if err != nil {
		return client.ForwardedPort{}, fmt.Errorf("error parsing remote port '%s': %v", remote, numError(err))
	}
	if r == 0 {
		return client.ForwardedPort{}, errors.New("remote port must be > 0")
	}
	var l uint64
	if local != "" {
		if l, err = strconv.ParseUint(local, 10, 16); err != nil {
			return client.ForwardedPort{}, fmt.Errorf("error parsing local port '%s': %v", local, numError(err))
		}
	}
	return client.ForwardedPort{Local: uint16(l), Remote: uint16(r)}, nil
}

// numError drops strconv's repetition of the input.
func numError(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

// Run loads the kubeconfig and forwards until ctx ends (a success) or,
// with Exec, until the command exits.
func Run(ctx context.Context, o *Options) error {
	c, ns, err := o.client()
	if err != nil {
		return err
	}
	var follow *client.FollowOptions
	if o.Target.Resource != "" && (o.Follow || o.Target.Resource != "pods" || o.hasNamedPort()) {
		r, err := c.ResolveTarget(ctx, ns, o.Target)
		if err != nil {
			return err
		}
		specs := make([]string, len(o.PortSpecs))
		protos := make([]client.Protocol, len(o.PortSpecs))
		for i, s := range o.PortSpecs {
			specs[i], protos[i], _ = cutProtocol(s) // checked in complete
		}
		if o.Ports, err = r.ForwardedPorts(specs); err != nil {
			return err
		}
		for i := range o.Ports {
			o.Ports[i].Protocol = protos[i]
		}
		o.Pod = r.Pod.Name
		if o.Follow {
			follow = &client.FollowOptions{Resolved: r, PortSpecs: specs}
		}
	}
	pf := &client.PortForwardOptions{
		Namespace: ns, Pod: o.Pod, Ports: o.Ports, Addresses: o.Addresses,
		Events: client.PrintEvents(o.IO.Out, o.IO.ErrOut), Wire: o.Wire(), Follow: follow,
		UDPIdleTimeout: o.UDPIdleTimeout,
	}
	if o.Exec == "" {
		return c.PortForward(ctx, pf)
	}
	// The command owns stdout: kubectl's progress lines go to stderr.
	pf.Events = client.PrintEvents(o.IO.ErrOut, o.IO.ErrOut)
	return runExec(ctx, c, pf, o)
}

// client builds the API client from the kubeconfig flags and environment.
func (o *Options) client() (*client.Client, string, error) {
	o.Kube.Getenv = o.Getenv
	cfg, ns, err := o.Kube.Config(o.Factory, o.IO.ErrOut)
	if err != nil {
		return nil, "", err
	}
	cfg.Logger = o.Factory.Logger(o.Verbosity)
	c, err := client.New(cfg)
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// hasNamedPort tells whether a port argument names its remote port.
func (o *Options) hasNamedPort() bool {
	for _, p := range o.PortSpecs {
		if _, err := strconv.ParseUint(remotePart(p), 10, 16); err != nil {
			return true
		}
	}
	return false
}

// isPortName: a valid name with at least one letter (all digits is a
// number, however bad).
func isPortName(s string) bool {
	return portName.MatchString(s) && strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz")
}

// remotePart is REMOTE of [LOCAL:]REMOTE[/PROTOCOL].
func remotePart(spec string) string {
	if s, _, err := cutProtocol(spec); err == nil {
		spec = s
	}
	if _, remote, ok := strings.Cut(spec, ":"); ok {
		return remote
	}
	return spec
}

// localOK: LOCAL of LOCAL:REMOTE is empty or a port number.
func localOK(spec string) bool {
	local, _, ok := strings.Cut(spec, ":")
	if !ok || local == "" {
		return true
	}
	_, err := strconv.ParseUint(local, 10, 16)
	return err == nil
}
