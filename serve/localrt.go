//go:build unix

package serve

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
)

// newLocalRuntime is the default runtime: local processes. Failed
// readiness probes go to probeFailed; containers' environments read
// ConfigMaps from configMaps.
func newLocalRuntime(pods []*kube.Pod, log *slog.Logger, probeFailed func(namespace, pod, container, message string),
	configMaps func(ctx context.Context, namespace, name string) (map[string]string, error)) (Runtime, error) {
	rt, err := localrt.New(pods, &localrt.Options{Logger: log.With("component", "localrt"), ProbeFailed: probeFailed, ConfigMaps: configMaps})
	if err != nil {
		return nil, fmt.Errorf("create runtime: %w", err)
	}
	return rt, nil
}
