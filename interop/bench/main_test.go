package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"go.uber.org/goleak"
	"k8s.io/klog/v2"
)

// binaries built once per test binary into binDir.
var (
	binDir   string
	buildMu  sync.Mutex
	builtErr = map[string]error{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		klog.SetLogger(logr.Discard())
	}
	dir, err := os.MkdirTemp("", "bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
			// spdystream's Close leaves a goroutine waiting on the peer's
			// streams; client-go cannot join it (see criref's TestMain).
			goleak.IgnoreTopFunction("github.com/moby/spdystream.(*Connection).shutdown"),
			// net/http keeps idle keep-alive connections of the control
			// requests (minting URLs, polling the pod).
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			// client-go's WebSocket heartbeat stops only on a Close frame
			// or on its next failed ping (every 5 s): a session ended by
			// dropping the connection (WS v4) leaves it for up to 5 s.
			goleak.IgnoreTopFunction("k8s.io/client-go/tools/remotecommand.(*heartbeat).start"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// binary builds pkg of the module at dir once and returns its path.
func binary(t testing.TB, dir, pkg, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	out := filepath.Join(binDir, name)
	err, done := builtErr[name]
	if !done {
		err = Build(context.Background(), dir, pkg, out)
		builtErr[name] = err
	}
	if err != nil {
		t.Skipf("%s does not build: %v", name, err)
	}
	return out
}

// targets are the two servers, started from binaries built from this
// checkout. The porthole target is skipped (with the build error) while
// the product does not build.
func targets(t testing.TB) []Target {
	crirefd := binary(t, "..", "./cmd/crirefd", "crirefd")
	return []Target{
		{Name: "porthole", Start: func(ctx context.Context) (*Node, error) {
			return StartPorthole(ctx, binary(t, "../..", "./cmd/porthole", "porthole"), t.TempDir(), io.Discard)
		}},
		{Name: "kubelet-lib", Start: func(ctx context.Context) (*Node, error) {
			return StartReference(ctx, crirefd, io.Discard)
		}},
	}
}

// startNode starts tg for the rest of the test.
func startNode(t testing.TB, tg Target) *Node {
	t.Helper()
	n, err := tg.Start(context.Background())
	if err != nil {
		t.Fatalf("start %s: %v", tg.Name, err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}
