//go:build unix

package serve

import (
	"fmt"
	"log/slog"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
)

// newLocalRuntime is the default runtime: local processes, calling back
// to the server through hooks.
func newLocalRuntime(pods []*kube.Pod, log *slog.Logger, hooks runtimeHooks) (Runtime, error) {
	rt, err := localrt.New(pods, &localrt.Options{Logger: log.With("component", "localrt"), ProbeFailed: hooks.probeFailed,
		ConfigMaps: hooks.configMap, Secrets: hooks.secret})
	if err != nil {
		return nil, fmt.Errorf("create runtime: %w", err)
	}
	return rt, nil
}
