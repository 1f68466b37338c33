//go:build unix

package node

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
)

func newRuntime(pods []*kube.Pod, log *slog.Logger, configMaps func(ctx context.Context, namespace, name string) (map[string]string, error),
	secrets func(ctx context.Context, namespace, name string) (map[string][]byte, error)) (podRuntime, error) {
	rt, err := localrt.New(pods, &localrt.Options{Logger: log.With("component", "localrt"), ConfigMaps: configMaps, Secrets: secrets})
	if err != nil {
		return nil, fmt.Errorf("create runtime: %w", err)
	}
	return rt, nil
}
