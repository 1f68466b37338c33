//go:build unix

package node

import (
	"fmt"
	"log/slog"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
)

func newRuntime(pods []*kube.Pod, log *slog.Logger) (podRuntime, error) {
	rt, err := localrt.New(pods, &localrt.Options{Logger: log.With("component", "localrt")})
	if err != nil {
		return nil, fmt.Errorf("create runtime: %w", err)
	}
	return rt, nil
}
