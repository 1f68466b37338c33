// Package attach is the `porthole attach` command, kubectl attach's
// equivalent.
package attach

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/cli/term"
	"github.com/porthole/porthole/internal/iostreams"

	"github.com/porthole/porthole/internal/cli/kubeflags"
)

// Options are the parsed flags and arguments of `porthole attach`.
type Options struct {
	IO         *iostreams.IOStreams
	Factory    *cli.Factory
	Kube       *kubeflags.KubeFlags
	Pod        string
	Container  string
	Stdin      bool
	TTY        bool
	Quiet      bool
	DetachKeys string
	Verbosity  int
	// ResumeTimeout bounds how long a cut session tries to resume (0: the
	// session does not resume).
	ResumeTimeout time.Duration
	// Ephemeral says the container is an ephemeral one (porthole debug's),
	// which the session's end note says will not be restarted.
	Ephemeral bool
}

// NewCmd returns the attach command. runF, when not nil, replaces the run
// step so tests can inspect the parsed Options.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "attach (POD | TYPE/NAME) [-c CONTAINER]",
		Short: "Attach to a running container",
		Long: `Attach to the main process of a running container, as kubectl attach does.
With -i -t, typing the detach keys (default ctrl-p,ctrl-q) ends stdin and
leaves the process running (unless the container has stdinOnce).`,
		Example: `  porthole attach demo
  porthole attach -it demo -c shell`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return cli.FlagErrorf("at least 1 argument is required for attach")
			case len(args) > 1:
				return cli.FlagErrorf("expected POD or TYPE/NAME, saw %d arguments: %v", len(args), args)
			}
			pod, err := kubeflags.PodName(args[0])
			if err != nil {
				return cli.FlagErrorf("%v", err)
			}
			opts.Pod = pod
			if opts.Verbosity, err = cmd.Flags().GetInt(cli.VerbosityFlag); err != nil {
				return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
			}
			if _, err := term.ParseDetachKeys(opts.DetachKeys); err != nil {
				return cli.FlagErrorf("--detach-keys: %v", err)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Container, "container", "c", "", "container name (default: the kubectl.kubernetes.io/default-container annotation, else the first)")
	cmd.Flags().BoolVarP(&opts.Stdin, "stdin", "i", false, "pass stdin to the container")
	cmd.Flags().BoolVarP(&opts.TTY, "tty", "t", false, "stdin is a TTY")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "only print output from the remote session")
	cmd.Flags().StringVar(&opts.DetachKeys, "detach-keys", term.DefaultDetachKeys, "key sequence that detaches from the container")
	term.AddResumeFlag(cmd.Flags(), &opts.ResumeTimeout)
	opts.Kube = kubeflags.AddKubeFlags(cmd.Flags())
	kf := func() *kubeflags.KubeFlags { return opts.Kube }
	cmd.ValidArgsFunction = kubeflags.CompletePods(f, kf, "")
	_ = cmd.RegisterFlagCompletionFunc("container", kubeflags.CompleteContainers(f, kf))
	return cmd
}

// Run attaches to the container. Like kubectl, a container with tty: true
// forces a TTY, and -t on a container without one is refused with a warning.
func Run(ctx context.Context, o *Options) error {
	c, ns, err := o.Kube.Client(o.Factory, o.Factory.Logger(o.Verbosity), o.IO.ErrOut)
	if err != nil {
		return err
	}
	pod, err := kubeflags.ResolvePod(ctx, c, ns, o.Pod)
	if err != nil {
		return err
	}
	if err := kubeflags.Completed(pod, "attach"); err != nil {
		return err
	}
	ctr, err := kubeflags.Container(pod, o.Container, o.IO.ErrOut)
	if err != nil {
		return fmt.Errorf("cannot attach to the container: %w", err)
	}
	tty := o.TTY
	switch {
	case tty && !ctr.TTY:
		tty = false
		if !o.Quiet {
			fmt.Fprintf(o.IO.ErrOut, "error: Unable to use a TTY - container %s did not allocate one\n", ctr.Name)
		}
	case !tty && ctr.TTY:
		tty = true // the runtime's output framing needs it
	}
	keys, _ := term.ParseDetachKeys(o.DetachKeys)
	t := term.Terminal{Stdin: o.Stdin, TTY: tty, Quiet: o.Quiet, GrowFirst: true, DetachKeys: keys}
	if !o.Quiet {
		fmt.Fprintln(o.IO.ErrOut, "All commands and output from this session will be recorded in container logs, including credentials and sensitive information passed through the command prompt.")
		fmt.Fprintln(o.IO.ErrOut, "If you don't see a command prompt, try pressing enter.")
	}
	var rawUsed bool
	err = term.Stream(ctx, o.IO, t, func(ctx context.Context, so client.StreamOptions, raw bool) error {
		rawUsed = raw
		so.Resume = term.Resume(o.IO.ErrOut, so.TTY, o.ResumeTimeout)
		return c.Attach(ctx, &client.AttachOptions{Namespace: ns, Pod: pod.Name, Container: ctr.Name, StreamOptions: so})
	})
	switch {
	case err != nil || o.Quiet || !o.Stdin || !rawUsed:
	case o.Ephemeral:
		fmt.Fprintf(o.IO.Out, "Session ended, the ephemeral container will not be restarted but may be reattached using 'porthole attach %s -c %s -n %s -i -t' if it is still running\n", pod.Name, ctr.Name, ns)
	default:
		fmt.Fprintf(o.IO.Out, "Session ended, resume using 'porthole attach %s -c %s -n %s -i -t' command\n", pod.Name, ctr.Name, ns)
	}
	return err
}
