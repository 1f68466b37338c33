// Package sessions is the `porthole sessions` command: the live sessions of
// porthole's gateway, listed, watched, joined and ended by a moderator.
package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/cli/kubeflags"
	"github.com/porthole/porthole/internal/cli/term"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/protocol"
)

// Options are the parsed flags and arguments of `porthole sessions`.
type Options struct {
	IO            *iostreams.IOStreams
	Factory       *cli.Factory
	Kube          *kubeflags.KubeFlags
	AllNamespaces bool
	Action        string // "list", "watch", "join" or "end"
	ID            string
	DetachKeys    string
	Verbosity     int
	// Now is the clock for the list's AGE column (default time.Now).
	Now func() time.Time
}

// NewCmd returns the sessions command and its subcommands. runF, when not
// nil, replaces the run step so tests can inspect the parsed Options.
func NewCmd(f *cli.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f, Action: "list"}
	run := func(cmd *cobra.Command) error {
		v, err := cmd.Flags().GetInt(cli.VerbosityFlag)
		if err != nil {
			return fmt.Errorf("read -%s: %w", cli.VerbosityFlag, err)
		}
		opts.Verbosity = v
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return Run(cmd.Context(), opts)
	}
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List, watch and join live sessions of porthole's gateway",
		Long: `List the live exec and attach sessions of porthole's gateway (or serve), and
watch one (its output, from a recent screen on), join one (your keystrokes go
in too) or, as its moderator, end one. Authorized by RBAC on the resource
"sessions" of the API group porthole.dev: verbs list, watch, join, moderate.`,
		Example: `  porthole sessions -A
  porthole sessions watch 1733320000000000000-7
  porthole sessions join 1733320000000000000-7
  porthole sessions end 1733320000000000000-7 -n prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd) },
	}
	cmd.Flags().BoolVarP(&opts.AllNamespaces, "all-namespaces", "A", false, "list the sessions of every namespace")
	opts.Kube = kubeflags.AddKubeFlags(cmd.PersistentFlags())
	for _, sub := range []struct{ name, short string }{
		{"watch", "Watch a session's output (from a recent screen on) until it ends"},
		{"join", "Join a session: its output, and your keystrokes go in (raw terminal)"},
		{"end", "End a session, as its moderator"},
	} {
		c := &cobra.Command{
			Use:   sub.name + " ID",
			Short: sub.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				opts.Action, opts.ID = cmd.Name(), args[0]
				if _, err := term.ParseDetachKeys(opts.DetachKeys); err != nil {
					return cli.FlagErrorf("--detach-keys: %v", err)
				}
				return run(cmd)
			},
		}
		if sub.name == "join" {
			c.Flags().StringVar(&opts.DetachKeys, "detach-keys", term.DefaultDetachKeys, "key sequence that leaves the session")
		}
		cmd.AddCommand(c)
	}
	return cmd
}

// Run lists, watches, joins or ends.
func Run(ctx context.Context, o *Options) error {
	c, ns, err := o.Kube.Client(o.Factory, o.Factory.Logger(o.Verbosity), o.IO.ErrOut)
	if err != nil {
		return err
	}
	switch o.Action {
	case "watch":
		return c.WatchSession(ctx, &client.WatchSessionOptions{Namespace: ns, ID: o.ID, Stdout: o.IO.Out})
	case "join":
		return join(ctx, c, ns, o)
	case "end":
		if err := c.EndSession(ctx, ns, o.ID); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.Out, "session %s ended\n", o.ID)
		return nil
	}
	if o.AllNamespaces {
		ns = ""
	}
	items, err := c.ListSessions(ctx, ns)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		if ns == "" {
			fmt.Fprintln(o.IO.ErrOut, "No sessions found")
		} else {
			fmt.Fprintf(o.IO.ErrOut, "No sessions found in %s namespace.\n", ns)
		}
		return nil
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	printList(o.IO.Out, items, ns == "", now())
	return nil
}

// printList prints the sessions as kubectl prints a table.
func printList(w io.Writer, items []protocol.SessionInfo, allNS bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	head := "ID\tUSER\tPOD\tCOMMAND\tAGE\tWIRE\tWATCHERS"
	if allNS {
		head = "NAMESPACE\t" + head
	}
	fmt.Fprintln(tw, head)
	for _, it := range items {
		pod := it.Pod
		if it.Container != "" {
			pod += "/" + it.Container
		}
		command := strings.Join(it.Command, " ")
		if it.Verb == "attach" {
			command = "(attach)"
		}
		if len(command) > 40 {
			command = command[:39] + "…"
		}
		var watchers []string
		for _, wt := range it.Watchers {
			s := wt.User
			if wt.Mode == "join" {
				s += "(join)"
			}
			watchers = append(watchers, s)
		}
		wl := strings.Join(watchers, ",")
		switch {
		case it.WaitingForModerator:
			wl = "waiting-for-moderator " + wl
		case wl == "":
			wl = "<none>"
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", it.ID, it.User, pod, command, age(now.Sub(it.Start)), it.Wire, strings.TrimSpace(wl))
		if allNS {
			row = it.Namespace + "\t" + row
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
}

// age is kubectl's short duration: 45s, 3m, 2h, 4d.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// join runs a join with the terminal raw, as exec -it: the detach keys
// (or the end of stdin) leave the session, which goes on.
func join(ctx context.Context, c *client.Client, ns string, o *Options) error {
	keys, _ := term.ParseDetachKeys(o.DetachKeys)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := term.Terminal{Stdin: true, TTY: true, Quiet: true, DetachKeys: keys}
	left := &leaveReader{cancel: cancel}
	err := term.Stream(ctx, o.IO, t, func(ctx context.Context, so client.StreamOptions, _ bool) error {
		left.r = so.Stdin
		return c.WatchSession(ctx, &client.WatchSessionOptions{Namespace: ns, ID: o.ID, Join: true, Stdin: left, Stdout: o.IO.Out})
	})
	if left.gone() && errors.Is(err, context.Canceled) {
		fmt.Fprintf(o.IO.ErrOut, "\r\nleft session %s\r\n", o.ID)
		return nil
	}
	return err
}

// leaveReader ends the join when its reader ends (the detach keys, EOF).
type leaveReader struct {
	r      io.Reader
	cancel context.CancelFunc
	mu     sync.Mutex
	ended  bool
}

func (l *leaveReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil {
		l.mu.Lock()
		l.ended = true
		l.mu.Unlock()
		l.cancel()
	}
	return n, err
}

func (l *leaveReader) gone() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}
