package officialclients

import (
	"flag"
	"os"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain before any test runs and read-only after.
var env *harness.Env

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(harness.MainExit(m.Run, harness.SetupOptions{DataSize: harness.MiB, InputSize: harness.MiB, HTTPS: true}, func(e *harness.Env) { env = e }, nil))
}
