package clientgo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/porthole/porthole/interop/internal/harness"
)

// sessionTimeout bounds one streaming session.
const sessionTimeout = 90 * time.Second

// executor is one way client-go can reach porthole.
type executor struct {
	name string
	// statusJSON: the protocol carries Status JSON, so exit codes arrive
	// as utilexec.CodeExitError (v4, v5); older ones report text.
	statusJSON bool
	// resize: the protocol has a resize channel (v3 and later).
	resize bool
	// v1: channel.k8s.io, where client-go never half-closes stdin and the
	// server resets the error stream at setup, so neither stdin EOF nor a
	// non-zero exit can reach the client (PROTOCOL.md 4.3).
	v1   bool
	make func(t *testing.T, u *url.URL) remotecommand.Executor
}

func spdyFor(protocols ...string) func(*testing.T, *url.URL) remotecommand.Executor {
	return func(t *testing.T, u *url.URL) remotecommand.Executor {
		t.Helper()
		tr, up, err := spdy.RoundTripperFor(env.Server.Config)
		if err != nil {
			t.Fatal(err)
		}
		e, err := remotecommand.NewSPDYExecutorForProtocols(tr, up, http.MethodPost, u, protocols...)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
}

func executors() []executor {
	ws := func(t *testing.T, u *url.URL) remotecommand.Executor {
		t.Helper()
		e, err := remotecommand.NewWebSocketExecutor(env.Server.Config, http.MethodGet, u.String())
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	return []executor{
		{"websocket", true, true, false, ws},
		{"spdy", true, true, false, func(t *testing.T, u *url.URL) remotecommand.Executor {
			t.Helper()
			e, err := remotecommand.NewSPDYExecutor(env.Server.Config, http.MethodPost, u)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}},
		{"spdy-v4.channel.k8s.io", true, true, false, spdyFor("v4.channel.k8s.io")},
		{"spdy-v3.channel.k8s.io", false, true, false, spdyFor("v3.channel.k8s.io")},
		{"spdy-v2.channel.k8s.io", false, false, false, spdyFor("v2.channel.k8s.io")},
		{"spdy-channel.k8s.io", false, false, true, spdyFor("channel.k8s.io")},
		{"fallback", true, true, false, func(t *testing.T, u *url.URL) remotecommand.Executor {
			t.Helper()
			e, err := remotecommand.NewFallbackExecutor(ws(t, u), spdyFor("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")(t, u),
				func(err error) bool { return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err) })
			if err != nil {
				t.Fatal(err)
			}
			return e
		}},
	}
}

// streamURL is the API-server URL for verb (exec or attach) on pod, with
// the query keys client-go's parameter codec would write.
func streamURL(t *testing.T, verb, pod, container string, stdin, stdout, stderr, tty bool, command ...string) *url.URL {
	t.Helper()
	u, err := url.Parse(strings.TrimSuffix(env.Server.Config.Host, "/"))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/%s", harness.Namespace, pod, verb)
	q := url.Values{}
	for _, c := range command {
		q.Add("command", c)
	}
	if container != "" {
		q.Set("container", container)
	}
	for k, v := range map[string]bool{"stdin": stdin, "stdout": stdout, "stderr": stderr, "tty": tty} {
		if v {
			q.Set(k, "true")
		}
	}
	u.RawQuery = q.Encode()
	return u
}

func stream(t *testing.T, e remotecommand.Executor, opts remotecommand.StreamOptions) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sessionTimeout)
	defer cancel()
	err := e.StreamWithContext(ctx, opts)
	if ctx.Err() != nil {
		t.Fatalf("session did not end within %v: %v", sessionTimeout, err)
	}
	return err
}

// TestExecutors runs every case on every executor:
// TestExecutors/<executor>/<case>.
func TestExecutors(t *testing.T) {
	for _, x := range executors() {
		t.Run(x.name, func(t *testing.T) {
			t.Run("stdout-stderr-64MiB", x.testOutput)
			t.Run("stdin-eof-16MiB", x.testStdinEOF)
			t.Run("exit-codes", x.testExitCodes)
			t.Run("container-errors", x.testContainerErrors)
			if x.resize {
				t.Run("tty-size", x.testTTYSize)
				t.Run("tty-resize", x.testTTYResize)
			}
			t.Run("attach", x.testAttach)
		})
	}
}

// testOutput moves the 64 MiB file on stdout and stderr at once.
func (x executor) testOutput(t *testing.T) {
	u := streamURL(t, "exec", harness.PodExec, "", false, true, true, false,
		"sh", "-c", `cat "$0" & cat "$0" >&2; wait`, env.Data.Path)
	out, errOut := harness.NewHashWriter(), harness.NewHashWriter()
	if err := stream(t, x.make(t, u), remotecommand.StreamOptions{Stdout: out, Stderr: errOut}); err != nil {
		t.Fatalf("stream: %v", err)
	}
	for _, s := range []struct {
		name string
		w    *harness.HashWriter
	}{{"stdout", out}, {"stderr", errOut}} {
		if s.w.Len() != env.Data.Size || s.w.Sum() != env.Data.SHA256 {
			t.Errorf("%s: got %d bytes sha256 %s, want %d bytes sha256 %s", s.name, s.w.Len(), s.w.Sum(), env.Data.Size, env.Data.SHA256)
		}
	}
}

func (x executor) testStdinEOF(t *testing.T) {
	in, err := os.Open(env.Input.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := []string{"cat"}
	if x.v1 {
		// No half-close in v1: a command that stops after the input's
		// length still proves every stdin byte arrived.
		cmd = []string{"head", "-c", fmt.Sprint(env.Input.Size)}
	}
	u := streamURL(t, "exec", harness.PodExec, "", true, true, true, false, cmd...)
	out, errOut := harness.NewHashWriter(), &bytes.Buffer{}
	if err := stream(t, x.make(t, u), remotecommand.StreamOptions{Stdin: in, Stdout: out, Stderr: errOut}); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if out.Len() != env.Input.Size || out.Sum() != env.Input.SHA256 {
		t.Errorf("stdout: got %d bytes sha256 %s, want the input's %d bytes sha256 %s", out.Len(), out.Sum(), env.Input.Size, env.Input.SHA256)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr: got %q, want nothing", errOut.String())
	}
}

func (x executor) testExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         int
	}{
		{"exit-0", "exit 0", 0},
		{"exit-1", "exit 1", 1},
		{"exit-42", "exit 42", 42},
		{"exit-255", "exit 255", 255},
		{"kill-9", "kill -9 $$", 137},
	} {
		if x.v1 && tc.want != 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			u := streamURL(t, "exec", harness.PodExec, "", false, true, true, false, "sh", "-c", tc.script)
			err := stream(t, x.make(t, u), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
			switch {
			case tc.want == 0:
				if err != nil {
					t.Fatalf("got error %v, want success", err)
				}
			case x.statusJSON:
				var ce utilexec.CodeExitError
				if !errors.As(err, &ce) {
					t.Fatalf("got %T %v, want utilexec.CodeExitError", err, err)
				}
				var ee utilexec.ExitError
				if !errors.As(err, &ee) || ee.ExitStatus() != tc.want || ce.Code != tc.want {
					t.Fatalf("exit code: got %d, want %d (%v)", ce.Code, tc.want, err)
				}
			default:
				// Pre-v4 protocols carry only a failure text.
				if err == nil {
					t.Fatalf("got success, want an error for exit code %d", tc.want)
				}
			}
		})
	}
}

// testContainerErrors: the API server refuses before the upgrade with 400;
// client-go reports the Status message (after falling back, for the
// fallback executor).
func (x executor) testContainerErrors(t *testing.T) {
	for _, tc := range []struct {
		name, container, want string
	}{
		{"unknown", "nope", "container nope is not valid for pod two"},
		{"unspecified", "", "a container name must be specified for pod two, choose one of: [a b]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := streamURL(t, "exec", harness.PodTwo, tc.container, false, true, true, false, "true")
			err := stream(t, x.make(t, u), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// sizeQueue hands out fixed sizes, then blocks until the session ends.
type sizeQueue struct {
	sizes chan remotecommand.TerminalSize
	done  <-chan struct{}
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case s := <-q.sizes:
		return &s
	case <-q.done:
		return nil
	}
}

func (x executor) testTTYSize(t *testing.T) {
	for i, sz := range []remotecommand.TerminalSize{{Width: 101, Height: 37}, {Width: 132, Height: 50}, {Width: 47, Height: 13}} {
		t.Run(fmt.Sprintf("run-%d", i), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			q := &sizeQueue{sizes: make(chan remotecommand.TerminalSize, 1), done: ctx.Done()}
			q.sizes <- sz
			u := streamURL(t, "exec", harness.PodExec, "", false, true, false, true, "stty", "size")
			var out bytes.Buffer
			if err := stream(t, x.make(t, u), remotecommand.StreamOptions{Stdout: &out, Tty: true, TerminalSizeQueue: q}); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if want := fmt.Sprintf("%d %d\r\n", sz.Height, sz.Width); out.String() != want {
				t.Errorf("stty size: got %q, want %q", out.String(), want)
			}
		})
	}
}

// testAttach attaches to the cat pod, sends a line and reads it back, then
// ends the session from the client side.
func (x executor) testAttach(t *testing.T) {
	line := fmt.Sprintf("attach-%s-%d\n", x.name, time.Now().UnixNano())
	u := streamURL(t, "attach", harness.PodCat, harness.ContainerMain, true, true, true, false)
	inR, inW := io.Pipe()
	seen := make(chan struct{})
	out := &lineWatcher{want: line, seen: seen}
	ctx, cancel := context.WithTimeout(t.Context(), sessionTimeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- x.make(t, u).StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: inR, Stdout: out, Stderr: io.Discard})
	}()
	if _, err := io.WriteString(inW, line); err != nil {
		t.Fatal(err)
	}
	select {
	case <-seen:
	case err := <-errc:
		t.Fatalf("session ended before the line came back: %v", err)
	case <-ctx.Done():
		t.Fatalf("line %q did not come back", line)
	}
	cancel()
	inW.Close()
	<-errc
}

// lineWatcher closes seen once want appeared in what was written.
type lineWatcher struct {
	want string
	buf  []byte
	seen chan struct{}
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	if w.seen == nil {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	if bytes.Contains(w.buf, []byte(w.want)) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}
