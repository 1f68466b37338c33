//go:build !unix

package node

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/porthole/porthole/kube"
)

func newRuntime([]*kube.Pod, *slog.Logger, func(context.Context, string, string) (map[string]string, error), func(context.Context, string, string) (map[string][]byte, error)) (podRuntime, error) {
	return nil, fmt.Errorf("porthole node runs pods on the local runtime, which needs Linux (or another Unix), not %s", runtime.GOOS)
}
