package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/porthole/porthole/interop/internal/harness"
)

const cmdTimeout = 90 * time.Second

// TestKubectl streams with real kubectl binaries through the real API
// server to both nodes, on every wire each kubectl speaks, and checks
// bytes, exit codes, the API server's own refusals, and the wire the API
// server chose toward the node (WebSocket straight through only to the
// node that declares the feature).
func TestKubectl(t *testing.T) {
	if len(env.kubectls) == 0 {
		t.Fatal("no kubectl found")
	}
	for _, k := range env.kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			for _, n := range env.nodes {
				t.Run(n.name, func(t *testing.T) {
					for _, w := range k.Wires() {
						c := direct(k, w, n, t.TempDir())
						t.Run(w.Name, func(t *testing.T) {
							t.Run("exec", c.testExec)
							t.Run("tty-resize", c.testTTYResize)
							t.Run("attach", c.testAttach)
							t.Run("cp", c.testCopy)
							t.Run("unknown-container", c.testUnknownContainer)
							t.Run("forbidden", c.testForbidden)
						})
					}
					for _, w := range k.PortForwardWires() {
						c := direct(k, w, n, t.TempDir())
						t.Run("port-forward-"+w.Name, c.testPortForward)
					}
				})
			}
		})
	}
}

// kc is one kubectl on one wire toward one node, straight to the API
// server or through a gateway.
type kc struct {
	k    harness.Kubectl
	w    harness.Wire
	n    *node
	home string

	admin, limited string // kubeconfigs: allowed everything, allowed to read pods
	// upstreamWS tells whether the API server gets a WebSocket for verb
	// from this kubectl (a gateway may translate).
	upstreamWS func(verb string) bool
	porthole   bool // porthole's client instead of kubectl k
	// gwLogs, through a gateway, are its log and audit log, which a
	// failure report shows beside the node's.
	gwLogs []string
}

func direct(k harness.Kubectl, w harness.Wire, n *node, home string) *kc {
	return &kc{k: k, w: w, n: n, home: home, admin: env.adminKubeconfig, limited: env.limitedKubeconfig,
		upstreamWS: func(string) bool { return w.WebSocket }}
}

type result struct {
	code           int
	stdout, stderr []byte
}

// command is kubectl args, or porthole's client when c.porthole is set
// (the kubeconfig flag after the verb, the wire's variables applied).
func (c *kc) command(ctx context.Context, kubeconfig string, args ...string) *exec.Cmd {
	if !c.porthole {
		return c.k.Command(ctx, c.w, c.home, kubeconfig, args...)
	}
	argv := append([]string{args[0], "--kubeconfig", kubeconfig}, args[1:]...)
	cmd := exec.CommandContext(ctx, env.porthole, argv...)
	cmd.Env = append([]string{"HOME=" + c.home, "XDG_CONFIG_HOME=" + filepath.Join(c.home, "config"),
		"PATH=" + os.Getenv("PATH"), "LANG=C", "TERM=xterm"}, c.w.Env...)
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// name says which client this is, for nonces.
func (c *kc) name() string {
	if c.porthole {
		return "porthole"
	}
	return c.k.Name()
}

func (c *kc) run(t *testing.T, kubeconfig string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	cmd := c.command(ctx, kubeconfig, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	r := result{stdout: out.Bytes(), stderr: errb.Bytes()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			t.Fatalf("kubectl %s: %v (stderr %q)", strings.Join(args, " "), err, tail(r.stderr))
		}
		r.code = ee.ExitCode()
	}
	return r
}

// logsSince is what the node logged after mark, and the tails of the
// gateway's logs, for a failure that the exit code alone cannot explain.
func (c *kc) logsSince(mark int) string {
	b, _ := os.ReadFile(c.n.logPath)
	b = b[min(mark, len(b)):]
	var out strings.Builder
	fmt.Fprintf(&out, "node %s log since the session began:\n%s", c.n.name, tail(b))
	for _, p := range c.gwLogs {
		fmt.Fprintf(&out, "\n%s (tail):\n%s", filepath.Base(p), tailFile(p))
	}
	return out.String()
}

// wantWire is what the node must see for a stream of verb: the API server
// passes a WebSocket through only to a node declaring the feature, and
// otherwise (or for a SPDY client) speaks SPDY to it.
func (c *kc) wantWire(verb string) string {
	if c.upstreamWS(verb) && c.n.declared {
		return verb + "/websocket"
	}
	return verb + "/spdy"
}

func (c *kc) checkWire(t *testing.T, mark int, verb string) {
	t.Helper()
	want := c.wantWire(verb)
	got := c.n.sessionsSince(mark)
	if len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != want }) {
		t.Errorf("node %s saw sessions %q, want only %q", c.n.name, got, want)
	}
}

func (c *kc) testExec(t *testing.T) {
	f, err := os.Open(env.input.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mark := c.n.mark()
	r := c.run(t, c.admin, f, "exec", "-i", c.n.pod("exec"), "-c", "main", "--",
		"sh", "-c", "cat && echo to-stderr >&2 && exit 3")
	if r.code != 3 {
		t.Errorf("exit code %d, want 3 (stderr %q)\n%s", r.code, tail(r.stderr), c.logsSince(mark))
	}
	if n, sum := len(r.stdout), sha(r.stdout); int64(n) != env.input.Size || sum != env.input.SHA256 {
		t.Errorf("stdout: %d bytes sha256 %s, want %d bytes sha256 %s\n%s", n, sum, env.input.Size, env.input.SHA256, c.logsSince(mark))
	}
	if !bytes.Contains(r.stderr, []byte("to-stderr\n")) {
		t.Errorf("stderr %q lacks the command's line", tail(r.stderr))
	}
	c.checkWire(t, mark, "exec")
}

// testTTYResize: kubectl under a real terminal; the remote terminal has
// kubectl's size from the start and follows a resize mid-session (which
// travels on its own channel, so the test asks until the size shows).
func (c *kc) testTTYResize(t *testing.T) {
	mark := c.n.mark()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	cmd := c.command(ctx, c.admin, "exec", "-it", c.n.pod("exec"), "-c", "main", "--",
		"sh", "-c", "stty size; while read x; do stty size; done")
	s := harness.StartPTY(t, cmd, cancel, 37, 101)
	if got := s.NextSize(t); got != "37 101" {
		t.Fatalf("first stty size %q, want %q", got, "37 101")
	}
	if err := pty.Setsize(s.Ptmx, &pty.Winsize{Rows: 41, Cols: 133}); err != nil {
		t.Fatal(err)
	}
	got := s.AwaitSize(t, "\n", "41 133")
	if got != "41 133" {
		t.Fatalf("after the resize stty size %q, want %q", got, "41 133")
	}
	if _, err := io.WriteString(s.Ptmx, "\x04"); err != nil { // Ctrl-D ends the loop and sh
		t.Fatal(err)
	}
	if code, rest := s.Wait(t); code != 0 {
		t.Errorf("exit code %d, want 0 (output %q)", code, rest)
	}
	c.checkWire(t, mark, "exec")
}

func (c *kc) testAttach(t *testing.T) {
	mark := c.n.mark()
	for i := range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
		cmd := c.command(ctx, c.admin, "attach", "-i", c.n.pod("cat"), "-c", "main")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 64)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// The line may be typed before the attach is in place, and lost as
		// a user's keystrokes would be: type it until it comes back.
		line := fmt.Sprintf("attach-%s-%s-%d-%d", c.name(), c.w.Name, time.Now().UnixNano(), i)
		echoed := false
		for try := 0; try < 60 && !echoed; try++ {
			if _, err := io.WriteString(stdin, line+"\n"); err != nil {
				t.Fatalf("write to kubectl: %v (stderr %q)", err, errb.String())
			}
			timer := time.After(500 * time.Millisecond)
		wait:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("kubectl attach ended before the echo (stderr %q)", errb.String())
					}
					if l == line {
						echoed = true
						break wait
					}
				case <-timer:
					break wait
				}
			}
		}
		if !echoed {
			t.Fatalf("no echo of %q (stderr %q)", line, errb.String())
		}
		stdin.Close()
		_ = cmd.Process.Kill()
		for range lines {
		}
		_ = cmd.Wait()
		cancel()
	}
	c.checkWire(t, mark, "attach")
}

func (c *kc) testCopy(t *testing.T) {
	dir := t.TempDir()
	inPod := filepath.Join(dir, "in-pod.bin")
	mark := c.n.mark()
	r := c.run(t, c.admin, nil, "cp", "-c", "main", env.input.Path, c.n.pod("exec")+":"+inPod)
	if r.code != 0 {
		t.Fatalf("kubectl cp to the pod: exit code %d (stderr %q)", r.code, tail(r.stderr))
	}
	checkFile(t, inPod)
	back := filepath.Join(dir, "back.bin")
	r = c.run(t, c.admin, nil, "cp", "-c", "main", c.n.pod("exec")+":"+inPod, back)
	if r.code != 0 {
		t.Fatalf("kubectl cp from the pod: exit code %d (stderr %q)", r.code, tail(r.stderr))
	}
	checkFile(t, back)
	c.checkWire(t, mark, "exec")
}

// testUnknownContainer: the API server itself refuses a container the pod
// does not have, before the node is asked.
func (c *kc) testUnknownContainer(t *testing.T) {
	mark := c.n.mark()
	r := c.run(t, c.admin, nil, "exec", c.n.pod("exec"), "-c", "nope", "--", "true")
	want := fmt.Sprintf("container nope is not valid for pod %s", c.n.pod("exec"))
	if r.code != 1 || !bytes.Contains(r.stderr, []byte(want)) {
		t.Errorf("exit code %d, stderr %q; want 1 and %q", r.code, tail(r.stderr), want)
	}
	if s := c.n.sessionsSince(mark); len(s) != 0 {
		t.Errorf("node saw sessions %q for a refused request", s)
	}
}

// testForbidden: a user without create on pods/exec is refused by the API
// server's RBAC (create whatever the HTTP method) with its words.
func (c *kc) testForbidden(t *testing.T) {
	mark := c.n.mark()
	r := c.run(t, c.limited, nil, "exec", c.n.pod("exec"), "-c", "main", "--", "true")
	want := fmt.Sprintf(`pods "%s" is forbidden: User "%s" cannot create resource "pods/exec" in API group "" in the namespace "default"`,
		c.n.pod("exec"), harness.LimitedUser)
	if r.code != 1 || !bytes.Contains(r.stderr, []byte(want)) {
		t.Errorf("exit code %d, stderr %q; want 1 and %q", r.code, tail(r.stderr), want)
	}
	if s := c.n.sessionsSince(mark); len(s) != 0 {
		t.Errorf("node saw sessions %q for a forbidden request", s)
	}
}

func (c *kc) testPortForward(t *testing.T) {
	_, port, _ := net.SplitHostPort(env.echo.Addr().String())
	mark := c.n.mark()
	c.forwardEcho(t, "pod/"+c.n.pod("exec"), ":"+port)
	c.checkWire(t, mark, "portforward")
}

// forwardEcho runs port-forward TARGET PORT and sends two connections of
// random bytes through it to the echo server, which must return them.
func (c *kc) forwardEcho(t *testing.T, target, portArg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	f := harness.StartForward(t, c.command(ctx, c.admin, "port-forward", "--address", "127.0.0.1", target, portArg))
	for i := range 2 {
		conn, err := net.Dial("tcp", f.Addr)
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 1<<20+i)
		_, _ = rand.Read(payload)
		go func() {
			_, _ = conn.Write(payload)
			conn.(*net.TCPConn).CloseWrite()
		}()
		_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("connection %d: read %d of %d bytes, equal %t, err %v (stderr %q)", i, len(got), len(payload), bytes.Equal(got, payload), err, f.Stderr.Tail())
		}
	}
}

func checkFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != env.input.Size || sha(b) != env.input.SHA256 {
		t.Errorf("%s: %d bytes sha256 %s, want %d bytes sha256 %s", path, len(b), sha(b), env.input.Size, env.input.SHA256)
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func tail(b []byte) string {
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

// TestControlPlaneGates records the API server's streaming gates: the
// cases above expect the 1.37 defaults (WebSocket translation and
// tunnelling on, WebSockets passed through to nodes that declare them,
// create checked on GET upgrades).
func TestControlPlaneGates(t *testing.T) {
	for _, g := range []string{"TranslateStreamCloseWebsocketRequests", "PortForwardWebsockets",
		"ExtendWebSocketsToKubelet", "NodeDeclaredFeatures", "AuthorizePodWebsocketUpgradeCreatePermission"} {
		on, ok := env.cp.Gates[g]
		t.Logf("%s=%t", g, on)
		if !ok || !on {
			t.Errorf("gate %s: reported %t, on %t; the cases expect it on", g, ok, on)
		}
	}
}
