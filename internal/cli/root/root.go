// Package root is the porthole command: it assembles the subcommands, runs
// one, and turns its outcome into the process exit code.
package root

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/internal/cli"
	attachcmd "github.com/porthole/porthole/internal/cli/attach"
	cpcmd "github.com/porthole/porthole/internal/cli/cp"
	debugcmd "github.com/porthole/porthole/internal/cli/debug"
	execcmd "github.com/porthole/porthole/internal/cli/exec"
	gatewaycmd "github.com/porthole/porthole/internal/cli/gateway"
	nodecmd "github.com/porthole/porthole/internal/cli/node"
	portforwardcmd "github.com/porthole/porthole/internal/cli/portforward"
	servecmd "github.com/porthole/porthole/internal/cli/serve"
	sessionscmd "github.com/porthole/porthole/internal/cli/sessions"
)

// NewCmd returns the root command with every subcommand.
func NewCmd(f *cli.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "porthole",
		Short: "Kubernetes exec, attach and port-forward, client and server",
		// Errors are printed once, by Run, with the exit code mapping.
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version(),
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cli.FlagErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.SetIn(f.IOStreams.In)
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.FlagError{Err: err} })
	cli.AddGlobalFlags(cmd.PersistentFlags())
	cmd.AddCommand(servecmd.NewCmd(f, nil))
	cmd.AddCommand(gatewaycmd.NewCmd(f, nil))
	cmd.AddCommand(nodecmd.NewCmd(f, nil))
	cmd.AddCommand(cpcmd.NewCmd(f, nil))
	cmd.AddCommand(execcmd.NewCmd(f, nil), attachcmd.NewCmd(f, nil), debugcmd.NewCmd(f, nil))
	cmd.AddCommand(portforwardcmd.NewCmd(f, nil))
	cmd.AddCommand(sessionscmd.NewCmd(f, nil))
	cmd.AddCommand(newDemoWebCmd(f))
	return cmd
}

// Run executes the command line args and returns the process exit code.
// Errors are printed to stderr as kubectl prints them.
func Run(ctx context.Context, f *cli.Factory, args []string) int {
	cmd := NewCmd(f)
	cmd.SetArgs(args)
	executed, err := cmd.ExecuteContextC(ctx)
	if err != nil && errors.Is(err, context.Canceled) {
		var sig *SignalError
		if errors.As(context.Cause(ctx), &sig) {
			err = sig
		}
	}
	printError(f, executed, err)
	return ExitCode(err)
}

// ExitCode maps a command's outcome to the process exit code, in one place:
//
//   - nil: 0
//   - an error with an ExitCode() int method (a remote command's exit
//     status): that code, unchanged
//   - *SignalError (interrupted): 128 + the signal number, as a shell reports
//   - anything else, usage errors included: 1, as kubectl exits
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		if c := coded.ExitCode(); c > 0 && c < 256 {
			return c
		}
		return 1
	}
	var sig *SignalError
	if errors.As(err, &sig) {
		return 128 + sig.Number()
	}
	return 1
}

// printError writes err to stderr the way kubectl does: "error: ..." and,
// for a usage error, where to find the usage. Remote exit codes are not
// errors of porthole's and print nothing; the process just exits with them.
func printError(f *cli.Factory, cmd *cobra.Command, err error) {
	if err == nil {
		return
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return
	}
	var sig *SignalError
	if errors.As(err, &sig) {
		return
	}
	fmt.Fprintf(f.IOStreams.ErrOut, "error: %v\n", err)
	var fe *cli.FlagError
	if errors.As(err, &fe) && cmd != nil {
		fmt.Fprintf(f.IOStreams.ErrOut, "See '%s --help' for usage.\n", cmd.CommandPath())
	}
}

// version is the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
