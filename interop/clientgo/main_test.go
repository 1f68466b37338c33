package clientgo

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
		return goleak.Find(
			// process-wide daemons of klog and client-go.
			goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
			goleak.IgnoreAnyFunction("k8s.io/client-go/util/workqueue.(*Typed[...]).updateUnfinishedWorkLoop"),
		)
	}
	os.Exit(harness.MainExit(m.Run, harness.SetupOptions{HTTPS: true}, func(e *harness.Env) { env = e }, leaks))
}
