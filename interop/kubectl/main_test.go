package kubectl

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain before any test runs and read-only after.
var env *harness.Env

func TestMain(m *testing.M) {
	leaks := func() error {
		return goleak.Find(goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"))
	}
	os.Exit(harness.MainExit(m.Run, harness.SetupOptions{Kubectl: true, HTTPS: true}, func(e *harness.Env) { env = e }, leaks))
}
