package reverseproxy

import (
	"flag"
	"os"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain before any test runs and read-only after.
var env *harness.Env

// keepAlive is serve's ping interval, well inside nginx's idle timeout
// (proxyTimeout), which the quiet cases outlast.
const keepAlive = "1s"

func TestMain(m *testing.M) {
	flag.Parse()
	opts := harness.SetupOptions{Kubectl: true, HTTPS: true, DataSize: harness.MiB, InputSize: 8 * harness.MiB,
		ServeArgs: []string{"-v", "1", "--keepalive-interval", keepAlive}}
	os.Exit(harness.MainExit(m.Run, opts, func(e *harness.Env) { env = e }, nil))
}
