package portforward

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain before any test runs and read-only after.
var env *harness.Env

func TestMain(m *testing.M) {
	leaks := func() error {
		ignore := []goleak.Option{
			// process-wide daemons of klog and client-go.
			goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
			goleak.IgnoreAnyFunction("k8s.io/client-go/util/workqueue.(*Typed[...]).updateUnfinishedWorkLoop"),
			// The kubelet's library, a peer here, forwarding to a refused
			// port: its handler resets the streams and closes them, and
			// when that beats the connection's SYN_REPLY for the data
			// stream (sent after the stream handler returns), spdystream's
			// Close waits for a reply that is never sent. Its goroutine,
			// nothing of porthole's.
			goleak.IgnoreAnyFunction("k8s.io/cri-streaming/pkg/streaming/portforward.(*httpStreamHandler).portForward"),
		}
		if os.Getenv(harness.TargetEnv) == "reference" {
			// Against the kubelet's library, a refused port can reset the
			// data stream before its SYN_REPLY; client-go then abandons the
			// connection's error stream without removing it, and
			// spdystream's shutdown of that connection waits for it forever.
			// Only there: porthole's transport joins its own shutdowns.
			ignore = append(ignore, goleak.IgnoreTopFunction("github.com/moby/spdystream.(*Connection).shutdown"))
		}
		return goleak.Find(ignore...)
	}
	// The data files are not used here (payloads are generated on the
	// fly), so they are kept small.
	opts := harness.SetupOptions{Kubectl: true, DataSize: harness.MiB, InputSize: harness.MiB}
	os.Exit(harness.MainExit(m.Run, opts, func(e *harness.Env) { env = e }, leaks))
}

var (
	portholeOnce sync.Once
	portholeBin  string
	portholeErr  error
)

// porthole returns the porthole binary for the client-side tests: the
// server under test is the product unless INTEROP_TARGET says otherwise,
// but the port-forward command is always porthole's.
func porthole(t *testing.T) string {
	t.Helper()
	portholeOnce.Do(func() {
		dir := filepath.Join(env.Dir, "client")
		if portholeErr = os.MkdirAll(dir, 0o755); portholeErr == nil {
			portholeBin, portholeErr = harness.BuildPorthole(context.Background(), dir)
		}
	})
	if portholeErr != nil {
		t.Fatalf("build porthole: %v", portholeErr)
	}
	return portholeBin
}
