package cp

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

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
	opts := harness.SetupOptions{Kubectl: true, DataSize: harness.MiB, InputSize: harness.MiB}
	os.Exit(harness.MainExit(m.Run, opts, func(e *harness.Env) { env = e }, leaks))
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// porthole returns the porthole binary: the harness's server binary when
// it is porthole, else (INTEROP_TARGET=reference) one built for the client.
func porthole(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		if filepath.Base(env.Porthole) == "porthole" {
			cliPath = env.Porthole
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		dir := filepath.Join(env.Dir, "cli")
		if cliErr = os.MkdirAll(dir, 0o755); cliErr == nil {
			cliPath, cliErr = harness.BuildPorthole(ctx, dir)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}
