package criref

import (
	"flag"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"go.uber.org/goleak"
	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// The Kubernetes libraries log every closed connection through klog;
	// keep test output readable unless -v.
	flag.Parse()
	if !testing.Verbose() {
		klog.SetLogger(logr.Discard())
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(
			// klog's flush daemon lives for the whole process.
			goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
			// spdystream's Close leaves a goroutine that waits (up to its
			// own close timeout) for the peer's streams; neither the CRI
			// library nor client-go can join it. It belongs to the peers
			// under test, not to criref.
			goleak.IgnoreTopFunction("github.com/moby/spdystream.(*Connection).shutdown"),
		); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
