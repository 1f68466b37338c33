package reverseproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// cmdTimeout bounds one kubectl run.
const cmdTimeout = 90 * time.Second

// TestKubectlThroughNginx runs every kubectl on each wire it speaks through
// nginx: an exec moving 8 MiB through cat (stdin in, stdout compared by
// SHA-256) with exit code 7, and an exec quiet for longer than nginx's
// idle timeout that still prints its line and exits 0 (on SPDY, kubectl
// reads a connection cut as a clean end: it would exit 0 with nothing).
// serve's log shows each session arrived on the wire under test, not
// after a silent fallback to SPDY.
func TestKubectlThroughNginx(t *testing.T) {
	ngx := sharedNginx(t)
	for _, k := range env.Kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			for _, w := range k.Wires() {
				t.Run(w.Name, func(t *testing.T) {
					c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: ngx.Kubeconfig, srv: env.Server}
					t.Run("exec", c.testExec)
					t.Run("quiet", c.testQuiet)
				})
			}
		})
	}
}

// TestBridgedThroughNginx: with serve --session-join every interactive
// session is bridged (the gateway terminates the client's wire and runs
// the session on its node in process). Every kubectl on each wire runs an
// interactive exec (its stdin ends at once) quiet for longer than nginx's
// idle timeout, and gets its line and exit code 0: the gateway pings the
// client from the bridge too. It did not before: SPDY kubectl exited 0
// with no output, WebSocket kubectl with a 1006.
func TestBridgedThroughNginx(t *testing.T) {
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	srv, err := harness.StartServer(t.Context(), env.Porthole, dir, "--cert-dir", certs, "-v", "1",
		"--keepalive-interval", keepAlive, "--session-join")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	ngx := startNginx(t, srv, certs)
	for _, k := range env.Kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			for _, w := range k.Wires() {
				t.Run(w.Name, func(t *testing.T) {
					c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: ngx.Kubeconfig, srv: srv, interactive: true}
					c.testQuiet(t)
				})
			}
		})
	}
}

// TestPortForwardThroughNginx forwards a port with every kubectl on each
// port-forward wire through nginx and echoes 8 MiB through one connection,
// then, after a pause longer than nginx's idle timeout, through a second
// connection of the same forward.
func TestPortForwardThroughNginx(t *testing.T) {
	ngx := sharedNginx(t)
	echo := harness.StartEcho(t)
	for _, k := range env.Kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			for _, w := range k.PortForwardWires() {
				t.Run(w.Name, func(t *testing.T) {
					c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: ngx.Kubeconfig, srv: env.Server}
					c.testPortForward(t, echo.Port())
				})
			}
		})
	}
}

type client struct {
	k          harness.Kubectl
	w          harness.Wire
	home       string
	kubeconfig string
	srv        *harness.Server // behind nginx
	// interactive runs the quiet exec with -i (its stdin ends at once):
	// serve --session-join bridges it.
	interactive bool
}

func (c *client) command(ctx context.Context, args ...string) *exec.Cmd {
	return c.k.Command(ctx, c.w, c.home, c.kubeconfig, args...)
}

// exitCode is the exit code of a finished command, or -1 when it did not
// exit by itself (killed at the timeout) or did not start.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	}
	return -1
}

func (c *client) testExec(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	mark := c.sessionMark()
	in, err := os.Open(env.Input.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := c.command(ctx, "exec", "-i", harness.PodExec, "-c", harness.ContainerMain, "--", "sh", "-c", "cat; exit 7")
	cmd.Stdin = in
	out := harness.NewHashWriter()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	code := exitCode(cmd.Run())
	if code != 7 || out.Sum() != env.Input.SHA256 || stderr.String() != "command terminated with exit code 7\n" {
		t.Errorf("exit code %d, stdout %d bytes sha256 %s (want %d bytes %s), stderr %q",
			code, out.Len(), out.Sum(), env.Input.Size, env.Input.SHA256, stderr.String())
	}
	c.checkSessions(t, mark, "exec")
}

func (c *client) testQuiet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	mark := c.sessionMark()
	script := fmt.Sprintf("sleep %d; echo after-the-quiet", int(quietFor.Seconds()))
	args := []string{"exec", harness.PodExec, "-c", harness.ContainerMain, "--", "sh", "-c", script}
	if c.interactive {
		args = slices.Insert(args, 1, "-i")
	}
	cmd := c.command(ctx, args...)
	if c.interactive {
		cmd.Stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := exitCode(cmd.Run())
	if code != 0 || stdout.String() != "after-the-quiet\n" {
		t.Errorf("exit code %d, stdout %q, stderr %q; want the line after %v of quiet (nginx's idle timeout %v)",
			code, stdout.String(), stderr.String(), quietFor, proxyTimeout)
	}
	c.checkSessions(t, mark, "exec")
}

func (c *client) testPortForward(t *testing.T, remote int) {
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	mark := c.sessionMark()
	f := harness.StartForward(t, c.command(ctx, "port-forward", "--address", "127.0.0.1", "pod/"+harness.PodExec, fmt.Sprintf(":%d", remote)))
	for i := range 2 {
		if i == 1 {
			time.Sleep(quietFor) // the forward is idle longer than nginx allows
		}
		if err := harness.PushThrough(ctx, f.Addr, env.Input); err != nil {
			t.Fatalf("connection %d: %v (kubectl stderr: %s)", i, err, f.Stderr.Tail())
		}
	}
	c.checkSessions(t, mark, "portforward")
}

// checkSessions: the serve behind nginx ran exactly one session since
// mark, of verb, on the wire under test: its node saw it arrive on that
// wire, or for a bridged (interactive) session, its gateway took the
// client on that wire and ran the session in process.
func (c *client) checkSessions(t *testing.T, mark int, verb string) {
	t.Helper()
	want := []string{verb + "/" + c.w.Name}
	if c.interactive {
		want = []string{verb + "/" + c.w.Name + "/in-process"}
	}
	// The line comes once serve has torn the session down, which can be
	// after kubectl exits: a bridged session's ends after its lingering
	// close through nginx (CI58 read the log before it, once).
	got := sessions(c.srv)[mark:]
	for deadline := time.Now().Add(10 * time.Second); len(got) < len(want) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // a log file offers no event to wait on
		got = sessions(c.srv)[mark:]
	}
	if !slices.Equal(got, want) {
		t.Errorf("serve ran sessions %q, want %q", got, want)
	}
}

// sessionMark is the number of sessions the serve behind nginx has logged
// so far.
func (c *client) sessionMark() int { return len(sessions(c.srv)) }

// sessions are "verb/wire" of each session srv's node logged (-v 1), and
// "verb/wire/in-process" of each its gateway ran on the node in process,
// with the client's wire, as the gateway logged its end (the node logs
// those as wire=in-process: skipped), in the order they were logged.
func sessions(srv *harness.Server) []string {
	var out []string
	for _, l := range strings.Split(srv.LogTail(64<<20), "\n") {
		switch {
		case strings.Contains(l, " msg=session component=node ") && field(l, "wire") != "in-process":
			out = append(out, field(l, "verb")+"/"+field(l, "wire"))
		case strings.Contains(l, ` msg="session ended" `) && field(l, "wireOut") == "in-process":
			out = append(out, field(l, "verb")+"/"+field(l, "wireIn")+"/in-process")
		}
	}
	return out
}

func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
