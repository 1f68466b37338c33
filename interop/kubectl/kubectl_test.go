package kubectl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// cmdTimeout bounds one kubectl invocation, so a hung session fails the
// test instead of the whole run.
const cmdTimeout = 90 * time.Second

// client is one kubectl version on one wire, with its own HOME.
type client struct {
	k    harness.Kubectl
	w    harness.Wire
	home string
	// kubeconfig, when set, is used instead of the shared server's
	// ProxyKubeconfig.
	kubeconfig string
}

// TestKubectl runs every case for every kubectl version and wire, named
// TestKubectl/kubectl-1.NN/{websocket,spdy}/case. Versions run one after
// another: each case moves 64 MiB and the machine has two cores.
func TestKubectl(t *testing.T) {
	// The system kubectl package ships 1.27 ... 1.33; a machine without
	// one of them skips that version, saying so (fails it in CI).
	for _, minor := range harness.MissingKubectls(env.Kubectls) {
		t.Run(fmt.Sprintf("kubectl-1.%d", minor), func(t *testing.T) {
			harness.MissingPeer(t, "kubectl.1.%d not installed: $PORTHOLE_KUBECTL_DIR, `dpkg -L kubectl` and /usr/lib/google-cloud-sdk/bin list no such binary", minor)
		})
	}
	for _, k := range env.Kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			for _, w := range k.Wires() {
				t.Run(w.Name, func(t *testing.T) {
					c := &client{k: k, w: w, home: t.TempDir()}
					t.Run("stdout-64MiB", c.testStdout)
					t.Run("stderr-64MiB", c.testStderr)
					t.Run("stdin-eof-16MiB", c.testStdinEOF)
					t.Run("exit-codes", c.testExitCodes)
					t.Run("unknown-container", c.testUnknownContainer)
					t.Run("named-container", c.testNamedContainer)
					t.Run("tty-size", c.testTTYSize)
					t.Run("tty-resize", c.testTTYResize)
					t.Run("attach", c.testAttach)
					t.Run("attach-tty", c.testAttachTTY)
					t.Run("cp", c.testCopy)
					t.Run("vanished-client", c.testVanished)
					t.Run("debug", c.testDebug)
				})
			}
		})
	}
}

// command builds a kubectl invocation through the recording proxy.
func (c *client) command(ctx context.Context, args ...string) *exec.Cmd {
	kc := env.Server.ProxyKubeconfig
	if c.kubeconfig != "" {
		kc = c.kubeconfig
	}
	return c.k.Command(ctx, c.w, c.home, kc, args...)
}

// result is a finished kubectl run.
type result struct {
	code   int
	stderr string
}

// run runs kubectl to completion with the given streams and returns its
// exit code; stderr is also captured for messages when stderr is nil.
func (c *client) run(t *testing.T, stdin io.Reader, stdout, stderr io.Writer, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	cmd := c.command(ctx, args...)
	var errBuf bytes.Buffer
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	if stdout == nil {
		cmd.Stdout = io.Discard
	}
	cmd.Stderr = &errBuf
	if stderr != nil {
		cmd.Stderr = stderr
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kubectl %s: did not finish within %v (stderr: %s)\nporthole log:\n%s",
			strings.Join(args, " "), cmdTimeout, tail(errBuf.String()), env.Server.LogTail(2048))
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return result{code: code, stderr: errBuf.String()}
}

// checkWire asserts that exactly one upgrade happened since mark, on this
// client's wire, and that porthole accepted it with the protocol the
// client prefers: v5.channel.k8s.io over WebSocket, v4.channel.k8s.io over
// SPDY (client-go offers v5 first, but no SPDY server speaks v5).
func (c *client) checkWire(t *testing.T, mark int) {
	t.Helper()
	ups := env.Server.Proxy.UpgradesSince(mark)
	if len(ups) != 1 {
		t.Errorf("upgrade attempts: got %d, want 1: %v", len(ups), ups)
		return
	}
	u := ups[0]
	want, proto := "SPDY/3.1", "v4.channel.k8s.io"
	if c.w.WebSocket {
		want, proto = "websocket", "v5.channel.k8s.io"
	}
	if c.w.WebSocket != u.WebSocket() || (!c.w.WebSocket && !u.SPDY()) {
		t.Errorf("upgrade: got %v, want %s", u, want)
	}
	if u.Status != 101 || u.Negotiated != proto {
		t.Errorf("upgrade answer: got %d %q, want 101 %q (%v)", u.Status, u.Negotiated, proto, u)
	}
}

func (c *client) testStdout(t *testing.T) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	mark := env.Server.Proxy.Mark()
	r := c.run(t, nil, out, errOut, "exec", harness.PodExec, "--", "cat", env.Data.Path)
	c.checkWire(t, mark)
	if r.code != 0 {
		t.Fatalf("exit code: got %d, want 0 (stderr: %s)", r.code, tail(errOut.String()))
	}
	if got := sha256.Sum256(out.Bytes()); int64(out.Len()) != env.Data.Size || hex.EncodeToString(got[:]) != env.Data.SHA256 {
		t.Errorf("stdout: got %d bytes sha256 %x, want %d bytes sha256 %s; %s", out.Len(), got, env.Data.Size, env.Data.SHA256,
			harness.Divergence(out.Bytes(), env.Data.Path))
	}
	if rest, races := harness.StripClientGoRace(errOut.Bytes()); len(rest) != 0 || races > 1 {
		t.Errorf("stderr: got %q, want nothing (at most client-go's one dropped-empty-message line)", tail(errOut.String()))
	}
}

func (c *client) testStderr(t *testing.T) {
	out, raw := &bytes.Buffer{}, &bytes.Buffer{}
	mark := env.Server.Proxy.Mark()
	r := c.run(t, nil, out, raw, "exec", harness.PodExec, "--", "sh", "-c", `cat "$0" >&2`, env.Data.Path)
	c.checkWire(t, mark)
	if r.code != 0 {
		t.Fatalf("exit code: got %d, want 0", r.code)
	}
	// kubectl's stderr is the remote stderr plus kubectl's own log lines;
	// client-go may log one dropped empty message (see StripClientGoRace).
	data, races := harness.StripClientGoRace(raw.Bytes())
	errOut := harness.NewHashWriter()
	errOut.Write(data)
	if errOut.Len() != env.Data.Size || errOut.Sum() != env.Data.SHA256 || races > 1 {
		t.Errorf("stderr: got %d bytes sha256 %s (%d dropped-message lines), want %d bytes sha256 %s; %s", errOut.Len(), errOut.Sum(), races,
			env.Data.Size, env.Data.SHA256, harness.Divergence(data, env.Data.Path))
	}
	if out.Len() != 0 {
		t.Errorf("stdout: got %q, want nothing", tail(out.String()))
	}
}

// testStdinEOF needs the half-close: cat only exits when its stdin ends,
// which takes the v5 close signal on WebSocket or a SPDY FIN.
func (c *client) testStdinEOF(t *testing.T) {
	in, err := os.Open(env.Input.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := harness.NewHashWriter()
	mark := env.Server.Proxy.Mark()
	r := c.run(t, in, out, nil, "exec", "-i", harness.PodExec, "--", "cat")
	c.checkWire(t, mark)
	if r.code != 0 {
		t.Fatalf("exit code: got %d, want 0 (stderr: %s)", r.code, tail(r.stderr))
	}
	if out.Len() != env.Input.Size || out.Sum() != env.Input.SHA256 {
		t.Errorf("stdout: got %d bytes sha256 %s, want the input's %d bytes sha256 %s", out.Len(), out.Sum(), env.Input.Size, env.Input.SHA256)
	}
}

func (c *client) testExitCodes(t *testing.T) {
	cases := []struct {
		name   string
		script string
		want   int
	}{
		{"exit-0", "exit 0", 0},
		{"exit-1", "exit 1", 1},
		{"exit-42", "exit 42", 42},
		{"exit-255", "exit 255", 255},
		{"kill-9", "kill -9 $$", 137},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mark := env.Server.Proxy.Mark()
			r := c.run(t, nil, nil, nil, "exec", harness.PodExec, "--", "sh", "-c", tc.script)
			c.checkWire(t, mark)
			if r.code != tc.want {
				t.Fatalf("kubectl exit code: got %d, want %d (stderr: %s)", r.code, tc.want, tail(r.stderr))
			}
			if tc.want != 0 {
				msg := fmt.Sprintf("command terminated with exit code %d", tc.want)
				if !strings.Contains(r.stderr, msg) {
					t.Errorf("stderr: got %q, want it to contain %q", r.stderr, msg)
				}
			}
		})
	}
}

// testUnknownContainer: newer kubectl refuses client-side from the pod
// spec; older ones reach the server, which answers 400 with the same text
// (PROTOCOL.md 2.1). Either way the user sees the message and a failure.
func (c *client) testUnknownContainer(t *testing.T) {
	r := c.run(t, nil, nil, nil, "exec", harness.PodTwo, "-c", "nope", "--", "true")
	if r.code == 0 {
		t.Fatalf("exit code: got 0, want non-zero")
	}
	const want = "container nope is not valid for pod two"
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr: got %q, want it to contain %q", r.stderr, want)
	}
}

// testNamedContainer: -c picks the second container of the two-container
// pod and its exit code comes back.
func (c *client) testNamedContainer(t *testing.T) {
	mark := env.Server.Proxy.Mark()
	r := c.run(t, nil, nil, nil, "exec", harness.PodTwo, "-c", harness.ContainerB, "--", "sh", "-c", "exit 7")
	c.checkWire(t, mark)
	if r.code != 7 {
		t.Errorf("exit code: got %d, want 7 (stderr: %s)", r.code, tail(r.stderr))
	}
}

func tail(s string) string {
	if len(s) > 600 {
		return "..." + s[len(s)-600:]
	}
	return s
}
