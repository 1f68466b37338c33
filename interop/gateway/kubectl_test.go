package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/interop/internal/harness"
)

const cmdTimeout = 90 * time.Second

// upstreams are the two topologies every client case runs through.
func upstreams() []struct {
	name string
	gw   *gatewayProc
} {
	return []struct {
		name string
		gw   *gatewayProc
	}{{"to-porthole-node", topo.toNode}, {"to-kubelet-spdy-only", topo.toKubelet}}
}

type client struct {
	k          harness.Kubectl
	w          harness.Wire
	home       string
	kubeconfig string
	gw         *gatewayProc
}

func (c *client) run(t *testing.T, stdin io.Reader, stdout, stderr io.Writer, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	cmd := c.k.Command(ctx, c.w, c.home, c.kubeconfig, args...)
	var errBuf bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &errBuf
	if stdout == nil {
		cmd.Stdout = io.Discard
	}
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, &errBuf)
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kubectl %s: no end within %v (stderr: %s)\ngateway log:\n%s", strings.Join(args, " "), cmdTimeout, tail(errBuf.String()), c.gw.logTail())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode()
	case err != nil:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return 0
}

func tail(s string) string {
	if len(s) > 1024 {
		return "..." + s[len(s)-1024:]
	}
	return s
}

// TestKubectl runs exec (stdout byte-exact, stdin to EOF, exit codes),
// attach and cp for every kubectl version and wire through both gateways.
func TestKubectl(t *testing.T) {
	for _, up := range upstreams() {
		t.Run(up.name, func(t *testing.T) {
			kc := kubeconfig(t, up.gw.URL, "alice-token")
			for _, k := range env.Kubectls {
				t.Run(k.Name(), func(t *testing.T) {
					for _, w := range k.Wires() {
						t.Run(w.Name, func(t *testing.T) {
							c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: kc, gw: up.gw}
							t.Run("stdout", c.testStdout)
							t.Run("stdin-eof", c.testStdinEOF)
							t.Run("exit-codes", c.testExitCodes)
							t.Run("attach", c.testAttach)
							t.Run("cp", c.testCopy)
						})
					}
				})
			}
		})
	}
}

// TestKubectlSPDYToWebSocketOnly: every kubectl on its SPDY wire through a
// gateway that treats its upstream as WebSocket-only, so the SPDY session
// is translated to WebSocket v5 (the direction the API server lacks).
func TestKubectlSPDYToWebSocketOnly(t *testing.T) {
	kc := kubeconfig(t, topo.toWSOnly.URL, "alice-token")
	for _, k := range env.Kubectls {
		for _, w := range k.Wires() {
			if w.WebSocket {
				continue
			}
			t.Run(k.Name(), func(t *testing.T) {
				c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: kc, gw: topo.toWSOnly}
				t.Run("stdout", c.testStdout)
				t.Run("stdin-eof", c.testStdinEOF)
				t.Run("exit-codes", c.testExitCodes)
				t.Run("attach", c.testAttach)
			})
		}
	}
}

func (c *client) testStdout(t *testing.T) {
	out, errOut := harness.NewHashWriter(), &bytes.Buffer{}
	mark := c.mark(t)
	code := c.run(t, nil, out, errOut, "exec", harness.PodExec, "--", "cat", env.Data.Path)
	recs := c.checkSession(t, mark, "exec", true)
	// Translated sessions count payload bytes; spliced ones wire bytes.
	if end := lastRecord(recs); end.Stage == audit.StageEnd {
		if in, out := c.wantWires(); (in != out && end.BytesOut != env.Data.Size) || end.BytesOut < env.Data.Size {
			t.Errorf("audit: %d bytes out, want %d", end.BytesOut, env.Data.Size)
		}
	}
	if code != 0 {
		t.Fatalf("exit code %d (stderr %s)", code, tail(errOut.String()))
	}
	rest, races := harness.StripClientGoRace(errOut.Bytes()) // see StripClientGoRace
	if out.Len() != env.Data.Size || out.Sum() != env.Data.SHA256 || len(rest) != 0 || races > 1 {
		t.Errorf("stdout: got %d bytes sha256 %s (stderr %q), want %d bytes sha256 %s", out.Len(), out.Sum(), errOut.String(), env.Data.Size, env.Data.SHA256)
	}
}

func (c *client) testStdinEOF(t *testing.T) {
	in, err := os.Open(env.Input.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := harness.NewHashWriter()
	mark := c.mark(t)
	if code := c.run(t, in, out, nil, "exec", "-i", harness.PodExec, "--", "cat"); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	c.checkSession(t, mark, "exec", true)
	if out.Len() != env.Input.Size || out.Sum() != env.Input.SHA256 {
		t.Errorf("stdout: got %d bytes sha256 %s, want the input's %d bytes", out.Len(), out.Sum(), env.Input.Size)
	}
}

func (c *client) testExitCodes(t *testing.T) {
	for _, want := range []int{0, 1, 42, 255} {
		var errOut bytes.Buffer
		mark := c.mark(t)
		code := c.run(t, nil, nil, &errOut, "exec", harness.PodExec, "--", "sh", "-c", fmt.Sprintf("exit %d", want))
		recs := c.checkSession(t, mark, "exec", true)
		if in, out := c.wantWires(); in != out && (lastRecord(recs).ExitCode == nil || *lastRecord(recs).ExitCode != want) {
			t.Errorf("audit of a translated session: exit code %v, want %d", lastRecord(recs).ExitCode, want)
		}
		if code != want {
			t.Errorf("exit %d: kubectl exited %d (stderr %s)", want, code, tail(errOut.String()))
		}
		if want != 0 && !strings.Contains(errOut.String(), fmt.Sprintf("command terminated with exit code %d", want)) {
			t.Errorf("exit %d: stderr %q", want, errOut.String())
		}
	}
}

// testAttach attaches to the cat pod and reads a unique line back.
func (c *client) testAttach(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	mark := c.mark(t)
	cmd := c.k.Command(ctx, c.w, c.home, c.kubeconfig, "attach", "-i", harness.PodCat, "-c", harness.ContainerMain)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait()
	}()
	line := fmt.Sprintf("attach-%s-%s-%d", c.k.Name(), c.w.Name, time.Now().UnixNano())
	io.WriteString(stdin, line+"\n")
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == line {
			c.checkSession(t, mark, "attach", false)
			return
		}
	}
	t.Fatalf("attach output ended before %q came back (gateway log %s)", line, c.gw.logTail())
}

// TestPortForward forwards through both gateways on every port-forward
// wire (the WebSocket tunnel is unwrapped toward the SPDY-only upstream)
// and pushes the input through two connections byte-exact.
func TestPortForward(t *testing.T) {
	echo := harness.StartEcho(t)
	for _, up := range upstreams() {
		t.Run(up.name, func(t *testing.T) {
			kc := kubeconfig(t, up.gw.URL, "alice-token")
			for _, k := range env.Kubectls {
				t.Run(k.Name(), func(t *testing.T) {
					for _, w := range k.PortForwardWires() {
						t.Run(w.Name, func(t *testing.T) {
							c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: kc, gw: up.gw}
							c.testPortForward(t, echo.Port())
						})
					}
				})
			}
		})
	}
}

// TestPortForwardSPDYToWebSocketOnly: every kubectl's plain SPDY
// port-forward, wrapped by the gateway into the WebSocket tunnel toward an
// upstream treated as WebSocket-only.
func TestPortForwardSPDYToWebSocketOnly(t *testing.T) {
	echo := harness.StartEcho(t)
	kc := kubeconfig(t, topo.toWSOnly.URL, "alice-token")
	for _, k := range env.Kubectls {
		for _, w := range k.PortForwardWires() {
			if w.WebSocket {
				continue
			}
			t.Run(k.Name(), func(t *testing.T) {
				c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: kc, gw: topo.toWSOnly}
				c.testPortForward(t, echo.Port())
			})
		}
	}
}

func (c *client) testPortForward(t *testing.T, remote int) {
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	mark := c.mark(t)
	f := harness.StartForward(t, c.k.Command(ctx, c.w, c.home, c.kubeconfig, "port-forward", "--address", "127.0.0.1", "pod/"+harness.PodExec, fmt.Sprintf(":%d", remote)))
	for i := range 2 {
		if err := harness.PushThrough(ctx, f.Addr, env.Input); err != nil {
			t.Fatalf("connection %d: %v (stderr %s, gateway log %s)", i, err, f.Stderr.Tail(), c.gw.logTail())
		}
	}
	c.checkSession(t, mark, "portforward", false)
}
