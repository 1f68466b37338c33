package soak

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain before any test runs and read-only after.
var env *harness.Env

// gateways in front of env.Server, one per mode, keyed by path name.
var gateways map[string]*harness.Gateway

func TestMain(m *testing.M) {
	leaks := func() error {
		return goleak.Find(
			goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
			goleak.IgnoreAnyFunction("k8s.io/client-go/util/workqueue.(*Typed[...]).updateUnfinishedWorkLoop"),
			// client-go's SPDY executor (this process's only spdystream user:
			// porthole's clients and servers run as processes of their own)
			// leaks these when the server goes away while it creates its
			// streams: spdystream's reader has ended and emptied its stream
			// map, the next CreateStream adds one that nothing removes, the
			// executor times out and closes, and Close's shutdown waits for
			// that stream forever (moby/spdystream v0.5.1 connection.go).
			goleak.IgnoreAnyFunction("github.com/moby/spdystream.(*Connection).shutdown"),
			goleak.IgnoreAnyFunction("github.com/moby/spdystream.(*Connection).shutdown.func1"),
		)
	}
	// Payloads are generated per session; the harness files stay small.
	opts := harness.SetupOptions{Kubectl: true, DataSize: harness.MiB, InputSize: harness.MiB,
		ServeArgs: []string{resumeGraceFlag}}
	os.Exit(harness.MainExit(func() int {
		gws, err := startGateways()
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak setup:", err)
			return 1
		}
		gateways = gws
		code := m.Run()
		for name, g := range gws {
			if err := g.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "soak teardown: gateway %s: %v\n", name, err)
				code = 1
			}
		}
		return code
	}, opts, func(e *harness.Env) { env = e }, leaks))
}

// Paths a session can take to the server.
const (
	pathDirect   = "direct"
	pathGateway  = "gw-default"
	pathGWSPDY   = "gw-spdy-only"
	pathGWWSOnly = "gw-websocket-only"
)

var paths = []string{pathDirect, pathGateway, pathGWSPDY, pathGWWSOnly}

// resumeGraceFlag is serve's and every gateway's resume grace. porthole's
// client offers resume by default, so when the soak kills it (client-kill)
// the server cannot tell the kill from a cut connection: it parks the
// session for the grace, its process still running, then ends it. The
// default grace (3 min) is longer than reapTimeout; this one is well
// inside it, so a parked session's process must still be gone in time.
// (Seed 1796419785596587621 #86 left `cat` running for the default grace.)
const resumeGraceFlag = "--session-resume-grace=3s"

func startGateways() (map[string]*harness.Gateway, error) {
	gws := map[string]*harness.Gateway{}
	modes := map[string][]string{pathGateway: nil, pathGWSPDY: {"--upstream-spdy-only"}, pathGWWSOnly: {"--upstream-websocket-only"}}
	for _, name := range []string{pathGateway, pathGWSPDY, pathGWWSOnly} {
		g, err := startGateway(name, modes[name]...)
		if err != nil {
			for _, g := range gws {
				g.Kill()
			}
			return nil, err
		}
		gws[name] = g
	}
	return gws, nil
}

// startGateway runs one `porthole gateway` in front of the server (plain
// HTTP on loopback, no authentication: loopback callers only).
func startGateway(name string, extra ...string) (*harness.Gateway, error) {
	g, err := harness.StartGateway(env.Porthole, harness.GatewayOptions{Log: filepath.Join(env.Dir, name+"-gateway.log")},
		append([]string{"--upstream", "http://" + env.Server.Addr, resumeGraceFlag}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", name, err)
	}
	return g, nil
}

// upstreamFor is the address a session's fault proxy relays to.
func upstreamFor(path string) string {
	if path == pathDirect {
		return env.Server.Addr
	}
	return gateways[path].URL[len("http://"):]
}
