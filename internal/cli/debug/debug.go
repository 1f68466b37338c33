// Package debug is the `porthole debug` command, kubectl debug's
// equivalent for a running pod: an ephemeral container added to it and,
// with -i, attached to.
package debug

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/cli/attach"
	"github.com/porthole/porthole/internal/cli/kubeflags"
	"github.com/porthole/porthole/internal/cli/term"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/kube"
)

// Options are the parsed flags and arguments of `porthole debug`.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cli.Factory
	Kube    *kubeflags.KubeFlags
	Pod     string
	// Args are the container's command (or its arguments, ArgsOnly).
	Args       []string
	ArgsOnly   bool
	Image      string
	PullPolicy string
	Container  string
	Target     string
	Profile    string
	Env        []string // NAME=VALUE
	Stdin      bool
	TTY        bool
	Quiet      bool
	// Attach is --attach, which -i sets unless it is given.
	Attach     bool
	Verbosity  int
	RunTimeout time.Duration // --pod-running-timeout
}

// profiles are kubectl debug's security profiles as they apply to an
// ephemeral container: the security context each asks for.
var profiles = map[string]map[string]any{
	"legacy":   nil,
	"general":  {"capabilities": map[string]any{"add": []string{"SYS_PTRACE"}}},
	"baseline": nil,
	"restricted": {"runAsNonRoot": true, "allowPrivilegeEscalation": false,
		"capabilities": map[string]any{"drop": []string{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
	"netadmin": {"capabilities": map[string]any{"add": []string{"NET_ADMIN", "NET_RAW"}}},
	"sysadmin": {"privileged": true},
}

// NewCmd returns the debug command. runF, when not nil, replaces the run
// step so tests can inspect the parsed Options.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "debug (POD | TYPE/NAME) --image=IMAGE [-it] [-c NAME] [--target=CONTAINER] [-- COMMAND [ARG...]]",
		Short: "Debug a running pod in an ephemeral container",
		Long: `Add an ephemeral container to a running pod, as kubectl debug does, and
with -i attach to it. The container runs until its command ends and is
never restarted; the pod keeps it, as the API server says.`,
		Example: `  porthole debug -it demo --image=busybox
  porthole debug demo --image=busybox -c probe -- sh -c 'ps; ls /proc'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			names, command := args, []string(nil)
			if dash >= 0 {
				names, command = args[:dash], args[dash:]
			}
			switch {
			case len(names) == 0:
				return cli.FlagErrorf("NAME is required for debug")
			case len(names) > 1:
				return cli.FlagErrorf("expected POD or TYPE/NAME, saw %d arguments: %v", len(names), names)
			case opts.Image == "":
				return cli.FlagErrorf("--image is required for an ephemeral container")
			case opts.TTY && !opts.Stdin:
				return cli.FlagErrorf("-i/--stdin is required for containers with -t/--tty=true")
			case opts.ArgsOnly && len(command) == 0:
				return cli.FlagErrorf("--arguments-only needs arguments after --")
			}
			if _, ok := profiles[opts.Profile]; !ok {
				return cli.FlagErrorf("--profile: unknown profile %q: one of general, baseline, restricted, netadmin, sysadmin, legacy", opts.Profile)
			}
			for _, e := range opts.Env {
				if name, _, ok := strings.Cut(e, "="); !ok || name == "" {
					return cli.FlagErrorf("--env: %q is not NAME=VALUE", e)
				}
			}
			pod, err := kubeflags.PodName(names[0])
			if err != nil {
				return cli.FlagErrorf("%v", err)
			}
			opts.Pod, opts.Args = pod, command
			if !cmd.Flags().Changed("attach") {
				opts.Attach = opts.Stdin
			}
			if opts.Verbosity, err = cmd.Flags().GetInt(cli.VerbosityFlag); err != nil {
				return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Image, "image", "", "the container's image (the embedded runtime ignores it)")
	fl.StringVar(&opts.PullPolicy, "image-pull-policy", "", "the container's image pull policy")
	fl.StringVarP(&opts.Container, "container", "c", "", "the container's name (default: debugger-XXXXX)")
	fl.StringVar(&opts.Target, "target", "", "the container whose process namespace to share, where the runtime can")
	fl.StringVar(&opts.Profile, "profile", "general", "security profile: general, baseline, restricted, netadmin, sysadmin or legacy")
	fl.StringArrayVar(&opts.Env, "env", nil, "an environment variable NAME=VALUE for the container (repeatable)")
	fl.BoolVar(&opts.ArgsOnly, "arguments-only", false, "pass what follows -- as the container's args, not its command")
	fl.BoolVarP(&opts.Stdin, "stdin", "i", false, "keep stdin open on the container and attach to it")
	fl.BoolVarP(&opts.TTY, "tty", "t", false, "allocate a TTY for the container")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print only the session's output")
	fl.BoolVar(&opts.Attach, "attach", false, "wait for the container to start and attach to it (default with -i)")
	fl.DurationVar(&opts.RunTimeout, "pod-running-timeout", time.Minute, "how long to wait for the container to start")
	opts.Kube = kubeflags.AddKubeFlags(fl)
	kf := func() *kubeflags.KubeFlags { return opts.Kube }
	cmd.ValidArgsFunction = kubeflags.CompletePods(f, kf, "")
	_ = cmd.RegisterFlagCompletionFunc("target", kubeflags.CompleteContainers(f, kf))
	return cmd
}

// Run adds the ephemeral container and, with --attach, waits for it to
// start and, with -i, attaches; without, or once it has ended, it
// prints the container's log (followed while it runs).
func Run(ctx context.Context, o *Options) error {
	c, ns, err := o.Kube.Client(o.Factory, o.Factory.Logger(o.Verbosity), o.IO.ErrOut)
	if err != nil {
		return err
	}
	pod, err := kubeflags.ResolvePod(ctx, c, ns, o.Pod)
	if err != nil {
		return err
	}
	ec := o.container(pod)
	if o.Container == "" && !o.Quiet {
		fmt.Fprintf(o.IO.ErrOut, "Defaulting debug container name to %s.\n", ec.Name)
	}
	if _, err := c.AddEphemeralContainer(ctx, ns, pod.Name, ec); err != nil {
		return err
	}
	if !o.Attach {
		return nil
	}
	st, err := waitStarted(ctx, c, ns, pod.Name, ec.Name, o.RunTimeout)
	if err != nil {
		return err
	}
	logs := client.LogOptions{Namespace: ns, Pod: pod.Name, Container: ec.Name}
	if !o.Stdin || st.State.Terminated != nil {
		// Nothing to type into: the log from its start, followed to its
		// end, shows all an attach would and what it printed before
		// (kubectl attaches, and loses that).
		logs.Follow = st.State.Terminated == nil
		return c.ContainerLog(ctx, logs, o.IO.Out)
	}
	err = attach.Run(ctx, &attach.Options{IO: o.IO, Factory: o.Factory, Kube: o.Kube, Pod: pod.Name,
		Container: ec.Name, Stdin: o.Stdin, TTY: o.TTY, Quiet: o.Quiet, DetachKeys: term.DefaultDetachKeys,
		Verbosity: o.Verbosity, Ephemeral: true})
	// A container that ended between the poll and the attach refuses the
	// upgrade (nothing was streamed): its log is what the attach would
	// have shown.
	var ue *client.UpgradeError
	if errors.As(err, &ue) {
		if p, gerr := c.GetPod(ctx, ns, pod.Name); gerr == nil {
			if st := ephemeralStatus(p, ec.Name); st != nil && st.State.Terminated != nil {
				return c.ContainerLog(ctx, logs, o.IO.Out)
			}
		}
	}
	return err
}

// ephemeralStatus is the status of the pod's ephemeral container name,
// or nil.
func ephemeralStatus(p *kube.Pod, name string) *kube.ContainerStatus {
	i := slices.IndexFunc(p.Status.EphemeralContainerStatuses, func(s kube.ContainerStatus) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	return &p.Status.EphemeralContainerStatuses[i]
}

// container is the ephemeral container the flags describe, named after
// -c or with a suffix no container of pod has.
func (o *Options) container(pod *kube.Pod) kube.EphemeralContainer {
	name := o.Container
	for name == "" {
		name = "debugger-" + suffix()
		if _, taken := pod.FindContainer(name); taken {
			name = ""
		}
	}
	ec := kube.EphemeralContainer{
		Container: kube.Container{Name: name, Image: o.Image, ImagePullPolicy: o.PullPolicy,
			Stdin: o.Stdin, TTY: o.TTY, TerminationMessagePolicy: "File"},
		TargetContainerName: o.Target,
	}
	if o.ArgsOnly {
		ec.Args = o.Args
	} else {
		ec.Command = o.Args
	}
	for _, e := range o.Env {
		k, v, _ := strings.Cut(e, "=")
		ec.Env = append(ec.Env, kube.EnvVar{Name: k, Value: v})
	}
	if sc := profiles[o.Profile]; sc != nil {
		ec.SecurityContext = sc
	}
	return ec
}

// suffix is five characters of the alphabet Kubernetes names objects
// with (no vowels, no look-alikes).
func suffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// errNeverStarted is a container that did not start in time.
var errNeverStarted = errors.New("the ephemeral container did not start")

// waitStarted polls the pod until its ephemeral container name runs or
// has ended (the API server's status, as the node reports it), for at
// most timeout.
func waitStarted(ctx context.Context, c *client.Client, ns, pod, name string, timeout time.Duration) (*kube.ContainerStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		p, err := c.GetPod(ctx, ns, pod)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if p != nil {
			if st := ephemeralStatus(p, name); st != nil && (st.State.Running != nil || st.State.Terminated != nil) {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w within %v: %s in pod %s/%s", errNeverStarted, timeout, name, ns, pod)
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}
