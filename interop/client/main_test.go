package client

import (
	"flag"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"go.uber.org/goleak"
	"k8s.io/klog/v2"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain before any test runs and read-only after.
var env *harness.Env

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		klog.SetLogger(logr.Discard())
	}
	leaks := func() error {
		return goleak.Find(
			goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
			// spdystream's Close leaves a goroutine in the reference
			// library's connections that nobody can join (see criref).
			goleak.IgnoreTopFunction("github.com/moby/spdystream.(*Connection).shutdown"),
		)
	}
	os.Exit(harness.MainExit(m.Run, harness.SetupOptions{}, func(e *harness.Env) { env = e }, leaks))
}
