// Package exec is the `porthole exec` command, kubectl exec's equivalent, and
// the connection flags and terminal handling the client commands share.
package exec

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"

	"github.com/porthole/porthole/internal/cli/kubeflags"
	"github.com/porthole/porthole/internal/cli/term"
)

// Options are the parsed flags and arguments of `porthole exec`.
type Options struct {
	IO        *iostreams.IOStreams
	Factory   *cli.Factory
	Kube      *kubeflags.KubeFlags
	Pod       string
	Container string
	Command   []string
	Stdin     bool
	TTY       bool
	Quiet     bool
	Verbosity int
	// ResumeTimeout bounds how long a cut session tries to resume (0: the
	// session does not resume).
	ResumeTimeout time.Duration
}

// NewCmd returns the exec command. runF, when not nil, replaces the run
// step so tests can inspect the parsed Options.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]",
		Short: "Execute a command in a container",
		Long: `Execute a command in a container, as kubectl exec does: over WebSocket
(v5.channel.k8s.io), falling back to SPDY/3.1 only when the server refuses the
WebSocket upgrade. The remote command's exit code becomes porthole's.

KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false makes --protocol=auto use SPDY.`,
		Example: `  porthole exec demo -- date
  porthole exec -it demo -c shell -- sh
  echo hi | porthole exec -i pod/demo -- cat`,
		ValidArgsFunction: kubeflags.CompletePods(f, func() *kubeflags.KubeFlags { return opts.Kube }, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parseArgs(args, cmd.ArgsLenAtDash()); err != nil {
				return err
			}
			v, err := cmd.Flags().GetInt(cli.VerbosityFlag)
			if err != nil {
				return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
			}
			opts.Verbosity = v
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Container, "container", "c", "", "container name (default: the kubectl.kubernetes.io/default-container annotation, else the first)")
	_ = cmd.RegisterFlagCompletionFunc("container", kubeflags.CompleteContainers(f, func() *kubeflags.KubeFlags { return opts.Kube }))
	cmd.Flags().BoolVarP(&opts.Stdin, "stdin", "i", false, "pass stdin to the container")
	cmd.Flags().BoolVarP(&opts.TTY, "tty", "t", false, "stdin is a TTY")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "only print output from the remote session")
	term.AddResumeFlag(cmd.Flags(), &opts.ResumeTimeout)
	opts.Kube = kubeflags.AddKubeFlags(cmd.Flags())
	return cmd
}

func (o *Options) parseArgs(args []string, dash int) error {
	switch {
	case len(args) == 0 || dash == 0:
		return cli.FlagErrorf("pod or type/name must be specified")
	case dash < 0 && len(args) > 1:
		return cli.FlagErrorf("exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead")
	case dash > 1:
		return cli.FlagErrorf("exec takes one pod before --, got %d arguments", dash)
	case len(args) < 2:
		return cli.FlagErrorf("you must specify at least one command for the container")
	}
	pod, err := kubeflags.PodName(args[0])
	if err != nil {
		return cli.FlagErrorf("%v", err)
	}
	o.Pod, o.Command = pod, args[1:]
	return nil
}

// Run executes the command in the pod. A non-zero remote exit code is
// printed as kubectl prints it and returned as *client.ExitError, which the
// root command turns into the same process exit code.
func Run(ctx context.Context, o *Options) error {
	c, ns, err := o.Kube.Client(o.Factory, o.Factory.Logger(o.Verbosity), o.IO.ErrOut)
	if err != nil {
		return err
	}
	pod, err := kubeflags.ResolvePod(ctx, c, ns, o.Pod)
	if err != nil {
		return err
	}
	if err := kubeflags.Completed(pod, "exec into"); err != nil {
		return err
	}
	ctr, err := kubeflags.Container(pod, o.Container, o.IO.ErrOut)
	if err != nil {
		return err
	}
	t := term.Terminal{Stdin: o.Stdin, TTY: o.TTY, Quiet: o.Quiet}
	err = term.Stream(ctx, o.IO, t, func(ctx context.Context, so client.StreamOptions, _ bool) error {
		so.Resume = term.Resume(o.IO.ErrOut, so.TTY, o.ResumeTimeout)
		return c.Exec(ctx, &client.ExecOptions{Namespace: ns, Pod: pod.Name, Container: ctr.Name,
			Command: o.Command, StreamOptions: so})
	})
	var ee *client.ExitError
	if errors.As(err, &ee) && !o.Quiet {
		fmt.Fprintf(o.IO.ErrOut, "command terminated with exit code %d\n", ee.Code)
	}
	return err
}
