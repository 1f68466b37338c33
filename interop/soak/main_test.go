package soak

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain before any test runs and read-only after.
var env *harness.Env

// gateways in front of env.Server, one per mode, keyed by path name.
var gateways map[string]*gatewayProc

func TestMain(m *testing.M) {
	leaks := func() error {
		return goleak.Find(
			goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
			goleak.IgnoreAnyFunction("k8s.io/client-go/util/workqueue.(*Typed[...]).updateUnfinishedWorkLoop"),
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
			if err := g.stop(); err != nil {
				fmt.Fprintf(os.Stderr, "soak teardown: gateway %s: %v\n", name, err)
				code = 1
			}
		}
		return code
	}, opts, func(e *harness.Env) { env = e }, leaks))
}

// Paths a session can take to the server.
const (
	pathDirect    = "direct"
	pathGateway   = "gw-default"
	pathGWSPDY    = "gw-spdy-only"
	pathGWWSOnly  = "gw-websocket-only"
	gatewayBanner = `gateway listening on (http://[0-9.:]+)`
)

var paths = []string{pathDirect, pathGateway, pathGWSPDY, pathGWWSOnly}

var listening = regexp.MustCompile(gatewayBanner)

// resumeGraceFlag is serve's and every gateway's resume grace. porthole's
// client offers resume by default, so when the soak kills it (client-kill)
// the server cannot tell the kill from a cut connection: it parks the
// session for the grace, its process still running, then ends it. The
// default grace (3 min) is longer than reapTimeout; this one is well
// inside it, so a parked session's process must still be gone in time.
// (Seed 1796419785596587621 #86 left `cat` running for the default grace.)
const resumeGraceFlag = "--session-resume-grace=3s"

// gatewayProc is one running `porthole gateway` (plain HTTP on loopback,
// no authentication: loopback callers only).
type gatewayProc struct {
	cmd  *exec.Cmd
	URL  string
	log  string
	done chan error
}

func startGateways() (map[string]*gatewayProc, error) {
	gws := map[string]*gatewayProc{}
	modes := map[string][]string{pathGateway: nil, pathGWSPDY: {"--upstream-spdy-only"}, pathGWWSOnly: {"--upstream-websocket-only"}}
	for _, name := range []string{pathGateway, pathGWSPDY, pathGWWSOnly} {
		g, err := startGateway(name, modes[name]...)
		if err != nil {
			for _, g := range gws {
				g.kill()
			}
			return nil, err
		}
		gws[name] = g
	}
	return gws, nil
}

func startGateway(name string, extra ...string) (*gatewayProc, error) {
	g := &gatewayProc{log: filepath.Join(env.Dir, name+"-gateway.log"), done: make(chan error, 1)}
	logf, err := os.Create(g.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := append([]string{"gateway", "--listen", "127.0.0.1:0", "--upstream", "http://" + env.Server.Addr, resumeGraceFlag}, extra...)
	g.cmd = exec.Command(env.Porthole, args...)
	g.cmd.Stderr = logf
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := g.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 1)
	go firstLine(out, lines)
	go func() { g.done <- g.cmd.Wait() }()
	select {
	case l := <-lines:
		m := listening.FindStringSubmatch(l)
		if m == nil {
			g.kill()
			return nil, fmt.Errorf("gateway %s: banner %q", name, l)
		}
		g.URL = m[1]
	case err := <-g.done:
		g.done <- err
		return nil, fmt.Errorf("gateway %s exited at start: %v", name, err)
	case <-time.After(30 * time.Second):
		g.kill()
		return nil, fmt.Errorf("gateway %s: no banner within 30s", name)
	}
	return g, nil
}

func firstLine(r io.Reader, out chan<- string) {
	sc := bufio.NewScanner(r)
	if sc.Scan() {
		out <- sc.Text()
	} else {
		out <- ""
	}
	_, _ = io.Copy(io.Discard, r)
}

func (g *gatewayProc) kill() {
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	<-g.done
}

func (g *gatewayProc) logTail() string {
	b, _ := os.ReadFile(g.log)
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

// stop sends SIGTERM and requires a clean exit within 30 s.
func (g *gatewayProc) stop() error {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.done:
		if err != nil {
			return fmt.Errorf("exit: %w\n%s", err, g.logTail())
		}
		return nil
	case <-time.After(30 * time.Second):
		g.kill()
		return errors.New("did not stop within 30s of SIGTERM")
	}
}

// upstreamFor is the address a session's fault proxy relays to.
func upstreamFor(path string) string {
	if path == pathDirect {
		return env.Server.Addr
	}
	return gateways[path].URL[len("http://"):]
}
