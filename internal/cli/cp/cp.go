// Package cp is the `porthole cp` command: kubectl cp, copying files and
// directories to and from a container with tar over exec, with a safe
// extractor on this side and a progress line on a terminal.
package cp

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"

	"github.com/porthole/porthole/internal/cli/kubeflags"
)

// Options are the parsed flags and arguments of `porthole cp`.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cli.Factory

	Src, Dest  Spec
	Container  string
	NoPreserve bool
	Retries    int
	Verbosity  int
	// Kube are the connection flags exec and attach share: --kubeconfig,
	// --context, -n, --server, --protocol.
	Kube *kubeflags.KubeFlags
	// IsTerminal reports whether w is a terminal (the progress line is
	// drawn only then); a check of *os.File descriptors unless a test sets it.
	IsTerminal func(w io.Writer) bool
}

// NewCmd returns the cp command. runF, when not nil, replaces the run step
// so tests can inspect the parsed Options.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f, IsTerminal: isTerminal}
	cmd := &cobra.Command{
		Use:   "cp SRC DEST",
		Short: "Copy files and directories to and from containers",
		Long: `Copy files and directories to and from a container, as kubectl cp does:
one of SRC and DEST is [NAMESPACE/]POD:PATH, the other a local path (a local
path with a colon must start with "/" or "."). The container needs tar (and sh
and tail for --retries). Without -c the pod is read first, as kubectl does, to
pick the container (the default-container annotation, else the first).

Unlike kubectl, a downloaded archive is extracted without ever writing outside
the destination: an entry with an absolute or ".." name, a symlink pointing
outside the destination, an entry reached through a symlink, a hard link from
outside, a device or a fifo stops the copy with an error (kubectl skips them
with a warning, and skips every symlink); symlinks that stay inside are kept.
A stream that ends before the archive does is an error, never a silent partial
copy: each file is written under a temporary name and renamed into place once
complete. Modes are kept (setuid, setgid and sticky bits dropped, umask applied);
owners and times are not.`,
		Example: `  porthole cp /tmp/foo web:/tmp/bar
  porthole cp ./data other-ns/web:/srv/data -c app
  porthole cp web:/var/log/app.log ./app.log --retries 5`,
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
	fl.StringVarP(&opts.Container, "container", "c", "", "container name (default: the kubectl.kubernetes.io/default-container annotation, else the first)")
	fl.BoolVar(&opts.NoPreserve, "no-preserve", false, "do not keep ownership and permissions in the container")
	fl.IntVar(&opts.Retries, "retries", 0, "times to resume a download whose stream broke: 0 never, negative without limit")
	opts.Kube = kubeflags.AddKubeFlags(fl)
	kf := func() *kubeflags.KubeFlags { return opts.Kube }
	cmd.ValidArgsFunction = kubeflags.CompletePods(f, kf, ":")
	_ = cmd.RegisterFlagCompletionFunc("container", kubeflags.CompleteContainers(f, kf))
	return cmd
}

// complete parses the arguments.
func (o *Options) complete(cmd *cobra.Command, args []string) error {
	if len(args) != 2 {
		return cli.FlagErrorf("source and destination are required")
	}
	var err error
	if o.Src, err = ParseSpec(args[0]); err != nil {
		return cli.FlagErrorf("%v", err)
	}
	if o.Dest, err = ParseSpec(args[1]); err != nil {
		return cli.FlagErrorf("%v", err)
	}
	switch {
	case o.Src.Pod != "" && o.Dest.Pod != "":
		return cli.FlagErrorf("one of src or dest must be a local file specification")
	case o.Src.Pod == "" && o.Dest.Pod == "":
		return cli.FlagErrorf("one of src or dest must be a remote file specification")
	case o.Src.Path == "" || o.Dest.Path == "":
		return cli.FlagErrorf("filepath can not be empty")
	}
	if _, err := o.Kube.Wire(); err != nil {
		return err
	}
	if o.Verbosity, err = cmd.Flags().GetInt(cli.VerbosityFlag); err != nil {
		return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
	}
	return nil
}

// CopyOptions maps the parsed command to the client's options. The
// namespace is the spec's, else -n, else namespace (the kubeconfig's), as
// kubectl picks it.
func (o *Options) CopyOptions(namespace string) *client.CopyOptions {
	wire, _ := o.Kube.Wire()
	co := &client.CopyOptions{
		Container: o.Container, NoPreserve: o.NoPreserve, Retries: o.Retries,
		Stdout: o.IO.Out, Stderr: o.IO.ErrOut, Wire: wire,
	}
	remote := o.Src
	if o.Src.Pod != "" {
		co.Direction, co.Remote, co.Local = client.FromContainer, o.Src.Path, o.Dest.Path
	} else {
		remote = o.Dest
		co.Direction, co.Remote, co.Local = client.ToContainer, o.Dest.Path, o.Src.Path
	}
	co.Pod, co.Namespace = remote.Pod, remote.Namespace
	if co.Namespace == "" {
		co.Namespace = o.Kube.Namespace
	}
	if co.Namespace == "" {
		co.Namespace = namespace
	}
	return co
}

// Run loads the kubeconfig and copies, drawing progress on a terminal.
func Run(ctx context.Context, o *Options) error {
	c, ns, err := o.Kube.Client(o.Factory, o.Factory.Logger(o.Verbosity), o.IO.ErrOut)
	if err != nil {
		return err
	}
	co := o.CopyOptions(ns)
	if co.Container == "" {
		if co.Container, err = defaultContainer(ctx, c, co, o.IO.ErrOut); err != nil {
			return err
		}
	}
	if o.IsTerminal(o.IO.ErrOut) {
		errOut := &syncWriter{w: o.IO.ErrOut}
		co.Stderr = errOut
		p := newProgress(errOut, nowFunc)
		co.Progress = p.update
		defer p.done()
	}
	err = c.Copy(ctx, co)
	explain(o.IO.ErrOut, err)
	return err
}

// defaultContainer reads the pod, as kubectl does before it execs, to
// refuse a finished pod and pick the container: the default-container
// annotation, else the first, with kubectl's "Defaulted container" notice.
// With -c porthole skips the read, so cp also works against a bare kubelet
// front that serves no pods.
func defaultContainer(ctx context.Context, c *client.Client, co *client.CopyOptions, warn io.Writer) (string, error) {
	pod, err := c.GetPod(ctx, co.Namespace, co.Pod)
	if err != nil {
		return "", err
	}
	if err := kubeflags.Completed(pod, "exec into"); err != nil {
		return "", err
	}
	ct, err := kubeflags.Container(pod, "", warn)
	if err != nil {
		return "", err
	}
	return ct.Name, nil
}

// explain prints an error that carries a remote exit code but says more
// than it: the root command prints nothing for remote exit codes (the
// remote tar said why on its own), which would hide that the archive
// stream broke after a partial copy.
func explain(w io.Writer, err error) {
	var exit *client.ExitError
	if errors.As(err, &exit) && err != error(exit) {
		fmt.Fprintf(w, "error: %v\n", err)
	}
}
