package exec

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/internal/cli"
)

// completePods completes the first argument with the names of the pods in
// the namespace (a GET of the pod list; nothing on any error).
func completePods(f *cli.Factory, flags func() *KubeFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		c, ns, err := flags().Client(f, nil, nil)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, err := c.PodNames(cmd.Context(), ns)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
