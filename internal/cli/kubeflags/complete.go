package kubeflags

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/kube"
)

// CompletePods completes the first argument with the names of the pods in
// the namespace (a GET of the pod list; nothing on any error), each with
// suffix appended. With suffix ":" (cp's POD:PATH) either of the two
// arguments is completed.
func CompletePods(f *cli.Factory, flags func() *KubeFlags, suffix string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		directive := cobra.ShellCompDirectiveNoFileComp
		if suffix != "" {
			directive |= cobra.ShellCompDirectiveNoSpace
		}
		completes := 1 // the pod is the first argument
		if suffix == ":" {
			completes = 2 // cp: either argument may be POD:PATH
		}
		if len(args) >= completes || strings.Contains(toComplete, ":") {
			return nil, cobra.ShellCompDirectiveDefault
		}
		c, ns, err := completionClient(f, flags())
		if err != nil {
			return nil, directive
		}
		names, err := c.PodNames(cmd.Context(), ns)
		if err != nil {
			return nil, directive
		}
		var out []cobra.Completion
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n+suffix)
			}
		}
		return out, directive
	}
}

// CompleteContainers completes -c/--container with the containers (and
// init containers) of the pod the first argument names (for cp, the first
// POD:PATH argument).
func CompleteContainers(f *cli.Factory, flags func() *KubeFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		arg := args[0]
		for _, a := range args {
			if strings.Contains(a, ":") {
				arg = a
				break
			}
		}
		pod, err := PodName(strings.SplitN(arg, ":", 2)[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, ns, err := completionClient(f, flags())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		p, err := ResolvePod(cmd.Context(), c, ns, pod)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, list := range [][]string{containerNames(p.Spec.Containers), containerNames(p.Spec.InitContainers)} {
			for _, n := range list {
				if strings.HasPrefix(n, toComplete) {
					out = append(out, n)
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionClient is a client for completion: no plugin output on the
// terminal, and a bound on each request so a tab press never hangs.
func completionClient(f *cli.Factory, k *KubeFlags) (*client.Client, string, error) {
	cfg, ns, err := k.Config(f, nil)
	if err != nil {
		return nil, "", err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = completionTimeout
	}
	c, err := client.New(cfg)
	return c, ns, err
}

// completionTimeout bounds a completion's request when --request-timeout
// does not.
const completionTimeout = 5 * time.Second

func containerNames(cs []kube.Container) []string {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}
