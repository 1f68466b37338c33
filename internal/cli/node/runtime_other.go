//go:build !unix

package node

import (
	"fmt"
	"log/slog"
	"runtime"

	"github.com/porthole/porthole/kube"
)

func newRuntime([]*kube.Pod, *slog.Logger) (podRuntime, error) {
	return nil, fmt.Errorf("porthole node runs pods on the local runtime, which needs Linux (or another Unix), not %s", runtime.GOOS)
}
