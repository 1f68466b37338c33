//go:build !unix

package serve

import (
	"fmt"
	"log/slog"
	"runtime"

	"github.com/porthole/porthole/kube"
)

// newLocalRuntime: the local runtime runs pods as Unix processes (process
// groups, ptys, signals); there is none here.
func newLocalRuntime([]*kube.Pod, *slog.Logger, runtimeHooks) (Runtime, error) {
	return nil, fmt.Errorf("the local runtime needs Linux (or another Unix); on %s, give serve a runtime of its own (serve.Options.Runtime) or run porthole gateway in front of a cluster", runtime.GOOS)
}
