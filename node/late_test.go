package node_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/transport/spdy"
)

// openTyped opens one SPDY stream of type typ.
func openTyped(t *testing.T, ctx context.Context, conn *spdy.Conn, typ string) *spdy.Stream {
	t.Helper()
	h := http.Header{}
	h.Set(protocol.HeaderStreamType, typ)
	st, err := conn.Open(ctx, h)
	if err != nil {
		t.Fatalf("open %s stream: %v", typ, err)
	}
	return st
}

// waitFile waits up to d for path to exist.
func waitFile(path string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
	}
	return false
}

// A SPDY exec's process starts while the client still opens its streams,
// and what it writes meanwhile waits in its pipes: nothing is lost, and the
// status comes after all of it.
func TestSPDYExecOutputBeforeStreamsIsKept(t *testing.T) {
	base := startNode(t)
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	cmd := []string{"sh", "-c", "printf early; printf err >&2; touch " + started + "; printf late"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := spdy.Dial(ctx, execURL(base, "p", cmd, "stdout", "stderr"), &spdy.DialOptions{Protocols: []string{"v4.channel.k8s.io"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	errSt := openTyped(t, ctx, conn, "error")
	if !waitFile(started, 10*time.Second) {
		t.Fatal("the process did not start while the client opened its streams")
	}
	stdout := openTyped(t, ctx, conn, "stdout")
	stderr := openTyped(t, ctx, conn, "stderr")
	out, errOut, st := streamtest.ReadAll(stdout), streamtest.ReadAll(stderr), streamtest.ReadAll(errSt)
	if got := string(<-out); got != "earlylate" {
		t.Errorf("stdout %q, want %q", got, "earlylate")
	}
	if got := string(<-errOut); got != "err" {
		t.Errorf("stderr %q, want %q", got, "err")
	}
	v, _ := protocol.Lookup(protocol.SPDYVersions, "v4.channel.k8s.io")
	if got, want := string(<-st), wantStatus(v, 0); got != want {
		t.Errorf("status %q, want %q", got, want)
	}
}

// A SPDY exec whose client never opens all its streams ends its process
// when the stream setup times out, and the connection is cut without a
// status.
func TestSPDYExecWithoutStreamsEndsProcess(t *testing.T) {
	base := streamtest.StartNode(t, testPods(), &streamtest.NodeOptions{Node: node.Options{StreamCreationTimeout: 300 * time.Millisecond}}).URL
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	const marker = "1000.4242"
	cmd := []string{"sh", "-c", "touch " + started + "; exec sleep " + marker}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := spdy.Dial(ctx, execURL(base, "p", cmd, "stdout"), &spdy.DialOptions{Protocols: []string{"v4.channel.k8s.io"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	errSt := openTyped(t, ctx, conn, "error") // and never stdout
	if !waitFile(started, 10*time.Second) {
		t.Fatal("the process did not start while the client opened its streams")
	}
	if b, err := io.ReadAll(errSt); len(b) != 0 || err == nil {
		t.Errorf("error stream: %q, %v; want nothing and an error", b, err)
	}
	select {
	case <-conn.Done():
	case <-ctx.Done():
		t.Fatal("connection not ended")
	}
	streamtest.WaitProc(t, "sleep "+marker, false)
}
