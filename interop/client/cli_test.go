package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/kube/kubeconfig"
)

var (
	cliOnce sync.Once
	cliBin  string
	cliErr  error
)

// portholeBin builds the porthole CLI once per run (env.Porthole may be
// another server binary, see harness.TargetEnv).
func portholeBin(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir := filepath.Join(env.Dir, "cli")
		if cliErr = os.MkdirAll(dir, 0o755); cliErr == nil {
			cliBin, cliErr = harness.BuildPorthole(context.Background(), dir)
		}
	})
	if cliErr != nil {
		t.Fatalf("build porthole: %v", cliErr)
	}
	return cliBin
}

// cliSetup is porthole exec's view of the served cluster: through a
// recording proxy of its own (closing it drops the connections), with a
// kubeconfig naming it.
type cliSetup struct {
	bin, kubeconfig string
	proxy           *harness.Proxy
}

func newCLI(t *testing.T) *cliSetup {
	t.Helper()
	p, err := harness.NewProxy(env.Server.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubeconfig.Write(kc, p.URL(), "interop", "default"); err != nil {
		t.Fatal(err)
	}
	return &cliSetup{bin: portholeBin(t), kubeconfig: kc, proxy: p}
}

// command is porthole with args, the test's kubeconfig and a clean
// environment (KUBECONFIG unset, extra variables added).
func (c *cliSetup) command(ctx context.Context, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, append([]string{args[0], "--kubeconfig", c.kubeconfig}, args[1:]...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "KUBECTL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	return cmd
}

// run runs porthole to completion and returns its exit code and stderr.
func (c *cliSetup) run(t *testing.T, extraEnv []string, stdin io.Reader, stdout io.Writer, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sessionTimeout)
	defer cancel()
	cmd := c.command(ctx, extraEnv, args...)
	var errBuf bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &errBuf
	if stdout == nil {
		cmd.Stdout = io.Discard
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("porthole %v did not finish in time; stderr:\n%s", args, errBuf.String())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), errBuf.String()
	case err != nil:
		t.Fatalf("porthole %v: %v", args, err)
	}
	return 0, errBuf.String()
}

// oneUpgrade checks the proxy saw exactly the expected upgrades since mark.
func (c *cliSetup) upgrades(t *testing.T, mark int, want ...string) {
	t.Helper()
	var got []string
	for _, u := range c.proxy.UpgradesSince(mark) {
		wire := "websocket"
		if u.SPDY() {
			wire = "spdy"
		}
		got = append(got, fmt.Sprintf("%s %d %s", wire, u.Status, u.Negotiated))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("upgrades %q, want %q", got, want)
	}
}

// The upgrades porthole's client gets from serve: its gateway selects the
// resume extension the client offers first, unless --resume-timeout=0.
const (
	wsOK    = "websocket 101 v5.resume.porthole.dev"
	wsPlain = "websocket 101 v5.channel.k8s.io"
	spdyOK  = "spdy 101 v4.channel.k8s.io"
)

func TestCLIStdoutStderr(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		name   string
		script string
		stdout bool
	}{
		{"stdout", `cat "$0"`, true},
		{"stderr", `cat "$0" >&2`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut := harness.NewHashWriter(), harness.NewHashWriter()
			mark := c.proxy.Mark()
			ctx, cancel := context.WithTimeout(t.Context(), sessionTimeout)
			defer cancel()
			cmd := c.command(ctx, nil, "exec", harness.PodExec, "--", "sh", "-c", tc.script, env.Data.Path)
			cmd.Stdout, cmd.Stderr = out, errOut
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			got, other := out, errOut
			if !tc.stdout {
				got, other = errOut, out
			}
			if got.Len() != env.Data.Size || got.Sum() != env.Data.SHA256 || other.Len() != 0 {
				t.Errorf("%s: %d bytes sha256 %s, other stream %d bytes; want %d bytes sha256 %s and nothing else",
					tc.name, got.Len(), got.Sum(), other.Len(), env.Data.Size, env.Data.SHA256)
			}
			c.upgrades(t, mark, wsOK)
		})
	}
}

func TestCLIStdinEOF(t *testing.T) {
	c := newCLI(t)
	in, err := os.Open(env.Input.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := harness.NewHashWriter()
	if code, stderr := c.run(t, nil, in, out, "exec", "-i", harness.PodExec, "--", "cat"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if out.Len() != env.Input.Size || out.Sum() != env.Input.SHA256 {
		t.Errorf("stdout %d bytes sha256 %s, want the input's %d bytes sha256 %s", out.Len(), out.Sum(), env.Input.Size, env.Input.SHA256)
	}
}

func TestCLIExitCodes(t *testing.T) {
	c := newCLI(t)
	for _, code := range []int{0, 1, 42, 255, 137} {
		t.Run(fmt.Sprintf("exit-%d", code), func(t *testing.T) {
			script := fmt.Sprintf("exit %d", code)
			if code == 137 {
				script = "kill -9 $$"
			}
			got, stderr := c.run(t, nil, nil, nil, "exec", harness.PodExec, "--", "sh", "-c", script)
			want := ""
			if code != 0 {
				want = fmt.Sprintf("command terminated with exit code %d\n", code)
			}
			if got != code || stderr != want {
				t.Errorf("exit %d stderr %q, want %d %q", got, stderr, code, want)
			}
		})
	}
}

// TestCLIWire: -v=6 names the wire in the log, the proxy sees the same, and
// KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false or --protocol spdy choose SPDY
// without a WebSocket attempt.
func TestCLIWire(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		name    string
		env     []string
		flags   []string
		wire    string
		upgrade string
	}{
		{"default", nil, nil, "websocket", wsOK},
		{"env false", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=False"}, nil, "spdy", spdyOK},
		{"env other", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=0"}, nil, "websocket", wsOK},
		{"flag", nil, []string{"--protocol", "spdy"}, "spdy", spdyOK},
		{"no resume", nil, []string{"--resume-timeout=0"}, "websocket", wsPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := c.proxy.Mark()
			var out bytes.Buffer
			args := append(append([]string{"exec", "-v=6"}, tc.flags...), harness.PodExec, "--", "echo", "hi")
			code, stderr := c.run(t, tc.env, nil, &out, args...)
			if code != 0 || out.String() != "hi\n" {
				t.Fatalf("exit %d stdout %q; stderr:\n%s", code, out.String(), stderr)
			}
			if want := `msg="session wire" wire=` + tc.wire; !strings.Contains(stderr, want) {
				t.Errorf("-v=6 log lacks %s:\n%s", want, stderr)
			}
			if !strings.Contains(stderr, `msg="upgrade response"`) {
				t.Errorf("-v=6 log lacks the upgrade response headers:\n%s", stderr)
			}
			c.upgrades(t, mark, tc.upgrade)
		})
	}
}
